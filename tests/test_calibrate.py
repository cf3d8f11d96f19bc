"""Per-pedal presence thresholds: known optima, how decoding uses them, the sidecar and the CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from startup import fresh_python

from ddspfx.calibrate import main
from ddspfx.catalog import EFFECT_NAMES
from ddspfx.thresholds import GRID, best_thresholds, f1_per_pedal


def test_thresholds_hit_known_optima():
    rng = np.random.default_rng(0)
    m = 200
    labels = rng.random((m, 3)) < 0.4
    probs = np.empty((m, 3))
    # column 0: positives at 0.3, negatives at 0.1 -> F1 = 1 for any threshold in [0.1, 0.3); tie -> nearest 0.5
    probs[:, 0] = np.where(labels[:, 0], 0.3, 0.1)
    # column 1: perfectly separated around 0.7 -> [0.6, 0.8) all give F1 = 1; the nearest to 0.5 is 0.6
    probs[:, 1] = np.where(labels[:, 1], 0.8, 0.6)
    # column 2: only 3 positives -> too few to choose from, keeps the default
    labels[:, 2] = False
    labels[:3, 2] = True
    probs[:, 2] = rng.random(m)
    th = best_thresholds(probs, labels, "f1")
    assert th.tolist() == [0.25, 0.6, 0.5]
    assert best_thresholds(probs, labels, "accuracy").tolist() == [0.25, 0.6, 0.5]  # separable: both agree
    assert f1_per_pedal(probs, labels, th)[:2].tolist() == [1.0, 1.0]
    assert f1_per_pedal(probs, labels, 0.5)[0] == 0.0  # every positive missed at 0.5


def test_thresholds_maximise_their_objective_against_brute_force():
    rng = np.random.default_rng(1)
    labels = rng.random((300, 4)) < 0.4
    probs = np.clip(0.15 * labels + rng.normal(0.25, 0.08, (300, 4)), 0, 1)  # positives ~0.40, negatives ~0.25
    f1_th, acc_th = best_thresholds(probs, labels, "f1"), best_thresholds(probs, labels, "accuracy")
    for j in range(4):
        p, y = probs[:, [j]], labels[:, [j]]
        assert f1_per_pedal(p, y, f1_th[j])[0] == pytest.approx(max(f1_per_pedal(p, y, t)[0] for t in GRID))
        assert ((p > acc_th[j]) == y).mean() == pytest.approx(max(((p > t) == y).mean() for t in GRID))
        assert f1_th[j] <= acc_th[j] < 0.5  # the positives sit low: both lower the bar, F1 the furthest
    with pytest.raises(ValueError, match="objective"):
        best_thresholds(probs, labels, "recall")


def test_presence_sets_use_per_pedal_thresholds(tiny_checkpoint):
    from ddspfx.checkpoint import load_model

    model = load_model(tiny_checkpoint)
    logits = torch.logit(torch.full((1, len(EFFECT_NAMES)), 0.3))
    assert model.presence_sets(logits) == [frozenset()]  # 0.5 everywhere until calibrated
    model.presence_thresholds = torch.full((len(EFFECT_NAMES),), 0.5)
    model.presence_thresholds[EFFECT_NAMES.index("eq")] = 0.2
    assert model.presence_sets(logits) == [frozenset({"eq"})]
    assert len(model.presence_sets(logits, threshold=0.1)[0]) == min(len(EFFECT_NAMES), model.config.max_effects)


def test_cli_writes_thresholds_to_the_sidecar_only(tiny_checkpoint, tmp_path, capsys):
    from ddspfx.checkpoint import load_model, sidecar_path

    path = tmp_path / "m.safetensors"
    shutil.copy(tiny_checkpoint, path)
    shutil.copy(sidecar_path(tiny_checkpoint), sidecar_path(path))
    weights = path.read_bytes()
    assert main([str(path), "--n", "50", "--objective", "f1"]) == 0
    assert path.read_bytes() == weights  # the weights and their hash are untouched
    meta = json.loads(sidecar_path(path).read_text())
    assert set(meta["presence_thresholds"]) == set(EFFECT_NAMES)
    cal = meta["calibration"]
    assert cal["clips"] == 50 and cal["source"] == "synth" and cal["objective"] == "f1"
    loaded = load_model(path)
    assert loaded.presence_thresholds.tolist() == pytest.approx([meta["presence_thresholds"][n] for n in EFFECT_NAMES])
    assert "Presence thresholds" in (tmp_path / "m_card.md").read_text()
    assert "| eq |" in capsys.readouterr().out


@pytest.mark.parametrize("argv, words", [
    (["nope.safetensors"], "not found"),
    (["x.safetensors", "--n", "5"], "at least 50"),
    (["x.safetensors", "--bogus"], "unrecognized arguments"),
    (["x.safetensors", "--objective", "recall"], "invalid choice"),
    (["x.safetensors", "--objective", "microf1"], "micro_f1"),  # the choices are listed
])
def test_cli_errors_are_one_line(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_errors_are_reported_before_torch_loads(tmp_path):
    """A missing checkpoint and a bad flag are said at once, before seconds of torch imports."""
    code = ("import sys; from ddspfx.calibrate import main; "
            "rc = (main(['nope.safetensors']), main(['x.safetensors', '--objective', 'recall'])); "
            "print(rc, 'torch' in sys.modules)")
    done = fresh_python(code, tmp_path)
    assert done.stdout.strip() == "(2, 2) False", done.stderr
    assert "checkpoint nope.safetensors not found" in done.stderr and "invalid choice" in done.stderr
    assert done.stderr.count("\n") == 2


def _weighted_checkpoint(folder, data_overrides: list[str]):
    """A debug-config model exported with a sidecar recording its training config (as training writes it)."""
    from ddspfx.checkpoint import save_model
    from ddspfx.config import load_config
    from ddspfx.model import DdspfxModel

    torch.manual_seed(0)
    cfg = load_config("debug", data_overrides)
    path = folder / "weighted.safetensors"
    save_model(DdspfxModel(cfg.model, clip_seconds=cfg.data.duration_s), path, data={"source": cfg.data.source},
               notes={"config": cfg.to_dict()})
    return path, cfg


def test_calibration_draws_chains_as_the_model_trained(tmp_path):
    """The calibration clips of a model trained with effect weights (and other chain settings) are drawn with
    exactly its training sampler, on the dry source the user names; uniform on request."""
    from ddspfx.calibration import calibration_data
    from ddspfx.checkpoint import load_model
    from ddspfx.datamodule import make_dataset, sampler_config

    path, trained = _weighted_checkpoint(tmp_path, ["--data.effect_weights", "eq=3,chorus=2",
                                                    "--data.min_effects", "1", "--data.order", "typical",
                                                    "--data.source", "modal"])
    model = load_model(path)
    cfg = calibration_data(model, "synth", 64)
    assert cfg.source == "synth" and cfg.val_size == 64  # the user's source and clip count
    assert sampler_config(cfg) == sampler_config(trained.data)
    weights = make_dataset(cfg, "val", model.sample_rate).sampler_config.effect_weights
    assert weights is not None and weights[EFFECT_NAMES.index("eq")] == 3.0
    assert weights[EFFECT_NAMES.index("chorus")] == 2.0 and weights[EFFECT_NAMES.index("delay")] == 1.0
    uniform = sampler_config(calibration_data(model, "synth", 64, trained_chains=False))
    assert uniform.effect_weights is None and uniform.min_effects == 0 and uniform.order == "uniform"


def test_a_sidecar_without_training_config_keeps_the_uniform_draw(tiny_checkpoint):
    """A model exported without its training config (as before chain settings were read) is calibrated as
    before: uniform over its own pedal types, its grammar's chain length."""
    from ddspfx.calibration import calibration_data
    from ddspfx.checkpoint import load_model
    from ddspfx.config import DataConfig
    from ddspfx.datamodule import sampler_config

    model = load_model(tiny_checkpoint)
    cfg = calibration_data(model, "synth", 64)
    assert cfg == DataConfig(source="synth", val_size=64, duration_s=model.clip_seconds,
                             max_effects=model.config.max_effects, effects=model.config.effects)
    assert sampler_config(cfg).effect_weights is None


def test_training_calibrates_on_its_own_weighted_chains(tmp_path, monkeypatch):
    """Training's own calibration draws its validation clips with the run's sampler (effect weights included),
    and recalibrating the exported model later draws the very same chains."""
    import ddspfx.training as training
    from ddspfx.calibration import calibration_data
    from ddspfx.checkpoint import load_model
    from ddspfx.config import load_config
    from ddspfx.datamodule import sampler_config

    seen = []

    def record(model, dataset, objective="accuracy", batch_size=32):
        seen.append(dataset.sampler_config)
        return {"thresholds": dict.fromkeys(model.effects, 0.5)}

    monkeypatch.setattr(training, "calibrate", record)
    cfg = load_config("debug", ["--trainer.max_steps", "1", "--trainer.val_every", "1", "--trainer.log_audio", "false",
                                "--loss.stft", "0", "--data.effect_weights", "eq=3,chorus=2"])
    result = training.train(cfg, tmp_path / "run", progress=False)
    assert len(seen) == 1 and seen[0] == sampler_config(cfg.data)
    assert seen[0].effect_weights[EFFECT_NAMES.index("eq")] == 3.0
    assert sampler_config(calibration_data(load_model(result["model"]), "synth", 64)) == seen[0]


def test_cli_micro_f1_writes_the_joint_optimum_and_says_which_chains(tmp_path, monkeypatch, capsys):
    """``--objective micro_f1`` through the CLI: the sidecar gets best_thresholds' micro_f1 answer on the model's
    presence probabilities (stood in for, so no clip is rendered), and the output names the effect weights."""
    import ddspfx.calibration as calibration
    from ddspfx.checkpoint import sidecar_path

    path, _ = _weighted_checkpoint(tmp_path, ["--data.effect_weights", "eq=3,chorus=2"])
    rng = np.random.default_rng(2)
    labels = rng.random((80, len(EFFECT_NAMES))) < 0.3
    probs = np.clip(0.25 * labels + rng.normal(0.3, 0.12, labels.shape), 0, 1)
    configs = []
    monkeypatch.setattr(calibration, "make_dataset", lambda cfg, split, sample_rate: configs.append(cfg) or [])
    monkeypatch.setattr(calibration, "presence_probabilities", lambda model, dataset, batch_size=32: (probs, labels))
    assert main([str(path), "--n", "80", "--objective", "micro_f1", "--source", "modal"]) == 0
    meta = json.loads(sidecar_path(path).read_text())
    expected = best_thresholds(probs, labels, "micro_f1")
    assert [meta["presence_thresholds"][n] for n in EFFECT_NAMES] == pytest.approx(expected.tolist())
    assert meta["calibration"]["objective"] == "micro_f1" and meta["calibration"]["source"] == "modal"
    assert meta["calibration"]["chains"]["effect_weights"] == "eq=3,chorus=2"
    assert meta["calibration"]["micro_f1_calibrated"] >= meta["calibration"]["micro_f1_at_0.5"]
    assert configs[0].source == "modal" and configs[0].effect_weights == "eq=3,chorus=2"
    out = capsys.readouterr().out
    assert "chains drawn as in the model's training" in out and "effect weights eq=3,chorus=2" in out
    assert main([str(path), "--n", "80", "--uniform-chains"]) == 0
    assert configs[1].effect_weights == "" and "chains drawn uniformly" in capsys.readouterr().out
