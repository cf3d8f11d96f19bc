"""End-to-end training: the debug config for a few steps, resume, atomic checkpoints, export."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
from startup import fresh_python

from ddspfx.config import load_config
from ddspfx.errors import DdspfxError


def _hidden(folder) -> list[str]:
    return [p.name for p in folder.rglob(".*") if p.is_file()]


@pytest.fixture(scope="module")
def debug_run(tmp_path_factory):
    from ddspfx.training import train

    out = tmp_path_factory.mktemp("run")
    cfg = load_config("debug", ["--trainer.max_steps", "3", "--trainer.val_every", "3"])
    result = train(cfg, out, progress=False)
    return out, result


def test_debug_training_writes_everything(debug_run):
    out, result = debug_run
    assert result["metrics"]["global_step"] == 3
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert list((out / "tb").glob("events.out.tfevents.*"))
    assert not _hidden(out)  # atomic writes leave no temp files behind
    # the losses were finite, including the proxy MR-STFT term the debug config switches on at step 2
    assert all(torch.isfinite(torch.tensor(v)) for k, v in result["metrics"].items() if k.startswith(("val/", "train/")))
    assert "val/stft" in result["metrics"] and "val/chain_acc" in result["metrics"]
    assert 0.0 <= result["metrics"]["val/chain_acc"] <= result["metrics"]["val/chain_acc_equiv"] <= 1.0
    from ddspfx.checkpoint import load_model

    model = load_model(result["model"])
    meta = json.loads((out / "model.json").read_text())
    assert meta["model"]["d_model"] == 32 and meta["frontend"]["name"] == "mel"
    assert meta["metrics"]["global_step"] == 3
    # presence thresholds calibrated on the validation split and restored at load
    from ddspfx.catalog import EFFECT_NAMES

    cal = meta["calibration"]
    assert cal["clips"] == load_config("debug").data.val_size and set(cal["thresholds"]) == set(EFFECT_NAMES)
    assert model.presence_thresholds.tolist() == pytest.approx([meta["presence_thresholds"][n] for n in EFFECT_NAMES])
    preds = model.predict(torch.zeros(1, 22050).normal_(0, 0.1), beam=2)
    assert len(preds) == 1 and len(preds[0].chain) <= 3


def test_resume_continues_from_last_checkpoint(debug_run):
    from ddspfx.train import main

    out, _ = debug_run
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 3
    with pytest.raises(DdspfxError, match="already holds a run"):
        from ddspfx.training import train

        train(load_config("debug"), out, progress=False)
    assert main(["--out", str(out), "--resume", "--no-progress", "--trainer.max_steps", "5"]) == 0
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 5
    assert ckpt["ddspfx_train_seconds"] > 0
    assert json.loads((out / "model.json").read_text())["metrics"]["global_step"] == 5


def test_interrupted_run_resumes_from_the_interruption(tmp_path):
    import lightning as L

    from ddspfx.datamodule import ResumableShuffle
    from ddspfx.training import train

    class Crash(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            if trainer.global_step == 2:
                raise RuntimeError("simulated crash")

    class Position(L.Callback):  # where the resumed run's training order starts
        def on_train_start(self, trainer, *args):
            sampler = trainer.train_dataloader.sampler
            self.seen = (type(sampler), sampler.epoch, sampler.start, len(trainer.train_dataloader))
            self.epoch_ends = []

        def on_train_epoch_end(self, trainer, *args):
            self.epoch_ends.append(trainer.global_step)

    cfg = load_config("debug", ["--trainer.max_steps", "4", "--trainer.val_every", "10", "--trainer.log_audio", "false"])
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, tmp_path, progress=False, extra_callbacks=[Crash()])
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 2
    assert not (tmp_path / "model.safetensors").exists()
    position = Position()
    cfg.trainer.max_steps = 18  # past the end of the first epoch (64 examples / batch 4 = 16 steps)
    result = train(cfg, tmp_path, resume=True, progress=False, extra_callbacks=[position])
    assert result["metrics"]["global_step"] == 18 and result["model"].is_file()
    # 2 steps x batch 4 were consumed before the crash: the resumed epoch skips those 8 examples
    assert position.seen == (ResumableShuffle, 0, 8, 64 // 4)
    # ... and still ends where an uninterrupted epoch would, so epoch 1 starts at step 16
    assert position.epoch_ends == [16, 18]  # 18: max_steps ends epoch 1


def test_resumable_shuffle_continues_the_interrupted_order():
    from ddspfx.datamodule import ResumableShuffle

    full = ResumableShuffle(10, seed=3)
    epoch0, epoch1 = list(full), list(full)
    assert sorted(epoch0) == list(range(10)) and sorted(epoch1) == list(range(10)) and epoch0 != epoch1
    resumed = ResumableShuffle(10, seed=3)
    resumed.seek(step=2, samples_per_step=3)  # 6 of 10 consumed in epoch 0 (3 steps per drop_last epoch)
    assert list(resumed) == epoch0[6:] + epoch0[:6] and list(resumed) == epoch1 and len(resumed) == 10
    later = ResumableShuffle(10, seed=3)
    later.seek(step=4, samples_per_step=3)  # step 4 = epoch 1, one step in
    assert (later.epoch, later.start) == (1, 3) and list(later)[:7] == epoch1[3:]
    assert list(ResumableShuffle(10, seed=4)) != epoch0


def test_run_stopped_between_checks_saves_its_final_step(tmp_path):
    """A run stopped between two validation checks (as the time limit stops it) writes last.ckpt at its final
    step, so --resume extends a finished run from where it stopped, not from the last check."""
    import lightning as L

    from ddspfx.training import train

    class StopAtFive(L.Callback):  # what Lightning's Timer does when max_time runs out
        def on_train_batch_end(self, trainer, *args):
            if trainer.global_step == 5:
                trainer.should_stop = True

    cfg = load_config("debug", ["--trainer.max_steps", "100", "--trainer.val_every", "2", "--trainer.log_audio", "false"])
    result = train(cfg, tmp_path, progress=False, extra_callbacks=[StopAtFive()])
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == result["metrics"]["global_step"] == 5


def test_cli_errors(tmp_path, capsys):
    from ddspfx.train import main

    assert main(["--out", str(tmp_path / "x"), "--resume"]) == 2
    assert "no " in capsys.readouterr().err
    assert main(["--config", "debug", "--out", str(tmp_path / "y"), "--model.widht", "3"]) == 2
    assert "unknown config key model.widht" in capsys.readouterr().err
    assert main(["--config", "nope", "--out", str(tmp_path / "z")]) == 2


def test_checkpoint_io_is_atomic(tmp_path):
    from ddspfx.training import AtomicCheckpointIO

    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1}, path)

    class Unpicklable:
        def __reduce__(self):
            raise pickle.PicklingError("boom")

    with pytest.raises(pickle.PicklingError):
        io.save_checkpoint({"step": 2, "bad": Unpicklable()}, path)
    assert torch.load(path, weights_only=False) == {"step": 1}  # the old complete file survives
    assert not _hidden(tmp_path)


def test_chain_scores_against_hand_counts():
    from ddspfx.catalog import get_effect
    from ddspfx.chain import Chain, Pedal
    from ddspfx.lightning_module import chain_scores

    def pedal(name, u):
        from ddspfx.catalog import denormalise

        return Pedal(name, {p.name: float(denormalise(u, p)) for p in get_effect(name).params})

    true = Chain([pedal("distortion", 0.5), pedal("eq", 0.5), pedal("delay", 0.5)])
    pred = Chain([pedal("distortion", 0.6), pedal("delay", 0.5), pedal("eq", 0.5), pedal("reverb", 0.5)])
    s = chain_scores(pred, true)
    assert (s["tp"], s["fp"], s["fn"]) == (3.0, 1.0, 0.0)
    assert s["order"] == 0.0 and s["exact"] == 0.0
    s = chain_scores(Chain(pred.pedals[:3]), true)
    assert s["order"] == 0.0 and s["order_equiv"] == 1.0  # eq and delay commute (measured pairs)
    assert s["param_err_sum"] == pytest.approx(0.1) and s["param_err_n"] == 3.0


def test_seed_ranges_are_disjoint():
    from ddspfx.datamodule import TEST_SEED_BASE, TRAIN_SEED, VAL_SEED, make_dataset

    assert TRAIN_SEED < VAL_SEED < TEST_SEED_BASE
    cfg = load_config("debug", ["--data.train_size", "10000001"]).data
    with pytest.raises(DdspfxError, match="overlap"):
        make_dataset(cfg, "train")


def test_flag_and_folder_errors_are_reported_before_torch_loads(tmp_path):
    """A bad flag and a --resume without a run are said at once, before seconds of torch and Lightning imports."""
    code = ("import sys; from ddspfx.train import main; "
            "rc = (main(['--bogus']), main(['--out', 'nowhere', '--resume'])); "
            "print(rc, 'torch' in sys.modules, 'lightning' in sys.modules)")
    done = fresh_python(code, tmp_path)
    assert done.stdout.strip() == "(2, 2) False False", done.stderr
    assert "unknown option --bogus" in done.stderr and "--resume: no nowhere" in done.stderr
    assert done.stderr.count("\n") == 2


def test_train_flag_errors_are_one_line(capsys):
    from ddspfx.train import main

    assert main(["--config"]) == 2  # argparse: "expected one argument"
    err = capsys.readouterr().err
    assert "expected one argument" in err and "python -m ddspfx.train --help" in err and err.count("\n") == 1


def test_training_on_mixed_guitars_with_render_variants(tmp_path):
    """The robustness recipe's data settings train end to end and are recorded in the run's config."""
    from ddspfx.training import train

    cfg = load_config("debug", ["--trainer.max_steps", "2", "--trainer.val_every", "2", "--trainer.log_audio", "false",
                                "--data.source", "mix:synth=0.5,modal=0.5", "--data.render_variants", "0.5",
                                "--data.dry_tone", "0.5"])
    result = train(cfg, tmp_path, progress=False)
    assert result["metrics"]["global_step"] == 2
    saved = load_config(str(tmp_path / "config.yaml")).data
    assert saved.source == "mix:synth=0.5,modal=0.5" and saved.render_variants == 0.5 and saved.dry_tone == 0.5
    assert json.loads((tmp_path / "model.json").read_text())["data"]["dry_tone"] == 0.5


def test_init_from_starts_a_new_run_from_exported_weights(debug_run, tmp_path):
    """--trainer.init_from copies an exported model's weights, then trains with a fresh optimiser from step 0."""
    from safetensors.torch import load_file

    from ddspfx.lightning_module import DdspfxLightning
    from ddspfx.training import initialise_from, train

    src, _ = debug_run
    exported = load_file(str(src / "model.safetensors"))
    fresh = DdspfxLightning(load_config("debug").to_dict()).model
    assert any(not torch.equal(v, exported[k]) for k, v in fresh.state_dict().items())  # a new init differs...
    initialise_from(fresh, str(src))
    assert all(torch.equal(v, exported[k]) for k, v in fresh.state_dict().items())  # ...until it takes the weights

    cfg = load_config("debug", ["--trainer.max_steps", "1", "--trainer.val_every", "1", "--trainer.log_audio", "false",
                                "--trainer.init_from", str(src / "model.safetensors")])
    result = train(cfg, tmp_path / "ft", progress=False)
    assert result["metrics"]["global_step"] == 1
    tuned = load_file(str(tmp_path / "ft" / "model.safetensors"))
    # one small step from the exported weights moves the parameters a little (AdamW: about lr = 1e-3 each);
    # BatchNorm statistics and counters are buffers and move on their own
    params = [k for k, _ in fresh.named_parameters()]
    near = max(float((tuned[k] - exported[k]).abs().max()) for k in params)
    assert 0.0 < near < 0.01

    wider = DdspfxLightning(load_config("debug", ["--model.d_model", "48"]).to_dict()).model
    with pytest.raises(DdspfxError, match="another architecture; pass --model.d_model 32"):
        initialise_from(wider, str(src))


def test_init_from_a_missing_model_is_a_one_line_error(tmp_path, capsys):
    from ddspfx.train import main

    assert main(["--config", "debug", "--out", str(tmp_path / "r"), "--trainer.init_from", str(tmp_path / "nope")]) != 0
    err = capsys.readouterr().err
    assert "not found" in err and "nope" in err and err.strip().count("\n") == 0


def test_resume_takes_the_newest_last_checkpoint(tmp_path):
    """A run copied to another folder and resumed there once had Lightning write last-v1.ckpt beside the copied
    last.ckpt; the next --resume must go on from the newer one."""
    import os

    from ddspfx.run_folder import latest_last

    old, new = tmp_path / "last.ckpt", tmp_path / "last-v1.ckpt"
    old.write_bytes(b"copied")
    new.write_bytes(b"trained on")
    (tmp_path / "step0004500.ckpt").write_bytes(b"not a last checkpoint")
    os.utime(old, (1_000, 1_000))
    os.utime(new, (2_000, 2_000))
    assert latest_last(tmp_path) == new
    os.utime(old, (3_000, 3_000))  # a later interruption wrote last.ckpt itself
    assert latest_last(tmp_path) == old


def test_init_from_a_model_that_knows_fewer_pedal_types(tmp_path):
    """A model that knows more pedal types starts from one that knows some of them: every token the old model
    knows keeps its row (matched by name: the old list here is in another order), so on a chain of old pedals the
    widened decoder scores the old tokens exactly as the old model did; the new pedals' rows keep a fresh init."""
    from ddspfx.chain import Chain, Pedal
    from ddspfx.checkpoint import save_model
    from ddspfx.model import DdspfxModel
    from ddspfx.training import initialise_from

    torch.manual_seed(0)
    old_cfg = load_config("debug", ["--model.effects", "reverb,eq,tremolo"]).model
    old = DdspfxModel(old_cfg).eval()
    save_model(old, tmp_path / "old.safetensors", data={"source": "none (test)"})
    new = DdspfxModel(load_config("debug").model).eval()  # every catalog pedal type
    fresh = {k: v.clone() for k, v in new.state_dict().items()}
    initialise_from(new, str(tmp_path / "old.safetensors"))

    from ddspfx.catalog import get_effect

    chain = Chain([Pedal(e, {p.name: p.low for p in get_effect(e).params}) for e in ("tremolo", "reverb")])
    audio = torch.randn(1, 44100) * 0.1
    with torch.no_grad():
        logits = {}
        for name, m in (("old", old), ("new", new)):
            memory, mask = m.encode(audio)
            logits[name] = m.decoder(torch.tensor([m.vocab.encode(chain)])[:, :-1], memory, mask)[0]
    shared = [new.vocab.id(old.vocab.token(i)) for i in range(len(old.vocab))]
    assert torch.allclose(logits["new"][:, shared], logits["old"], atol=1e-5)
    n_old, n_new = len(old.effects), len(new.effects)
    queries = new.state_dict()["heads.queries"]
    assert torch.equal(queries[new.effects.index("eq")], old.state_dict()["heads.queries"][1])
    assert torch.equal(queries[n_new + 2], old.state_dict()["heads.queries"][n_old + 2])  # the third slot
    fuzz = new.vocab.effect_open_id("fuzz")
    assert torch.equal(new.state_dict()["decoder.embed.weight"][fuzz], fresh["decoder.embed.weight"][fuzz])
    assert torch.equal(queries[new.effects.index("fuzz")], fresh["heads.queries"][new.effects.index("fuzz")])

    fewer = DdspfxModel(load_config("debug", ["--model.effects", "reverb,eq"]).model)
    with pytest.raises(DdspfxError, match="another architecture; pass --model.effects reverb,eq,tremolo"):
        initialise_from(fewer, str(tmp_path / "old.safetensors"))
