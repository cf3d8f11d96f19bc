"""The guitar-identity adversary: gradient reversal, its labels from the data, its place in training and export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ddspfx.adversary import GuitarAdversary, GuitarLabels, guitar_labels, identity_class, pool, reverse_gradient
from ddspfx.config import load_config
from ddspfx.data.collate import collate
from ddspfx.data.dataset import EffectsDataset, draw_dry
from ddspfx.errors import DdspfxError
from ddspfx.sources import make_source
from ddspfx.sources.procedural import DESCRIPTORS, draw_guitar, guitar_descriptors


def _f(x: torch.Tensor) -> torch.Tensor:
    return (torch.sin(3.0 * x) * torch.linspace(-1.0, 2.0, x.shape[-1], dtype=x.dtype)).sum()


# --- gradient reversal -----------------------------------------------------------------------


def test_gradient_reversal_is_minus_lambda_times_the_plain_gradient() -> None:
    x = torch.randn(3, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    assert torch.autograd.gradcheck(_f, (x,))  # the plain gradient agrees with finite differences
    (plain,) = torch.autograd.grad(_f(x), x)
    for lam in (0.0, 0.3, 1.0, 2.5):
        y = reverse_gradient(x, lam)
        assert torch.equal(y, x)  # forward: the identity
        (rev,) = torch.autograd.grad(_f(y), x)
        assert torch.equal(rev, -lam * plain)
    # and by central finite differences of the function seen from the input (the layer is the identity there)
    eps, i = 1e-6, (1, 4)
    xp, xm = x.detach().clone(), x.detach().clone()
    xp[i] += eps
    xm[i] -= eps
    fd = float((_f(xp) - _f(xm)) / (2 * eps))
    (rev,) = torch.autograd.grad(_f(reverse_gradient(x, 0.5)), x)
    assert float(rev[i]) == pytest.approx(-0.5 * fd, rel=1e-6)


def test_the_head_learns_while_the_reversed_features_unlearn() -> None:
    """One gradient step: the head's parameters lower the identity loss, the encoder side (memory) raises it."""
    torch.manual_seed(0)
    b, f, d = 16, 5, 8
    labels = GuitarLabels(torch.zeros(b, dtype=torch.int64), torch.arange(b) % 4, torch.rand(b, len(DESCRIPTORS)))
    memory = (torch.randn(b, f, d) + 2.0 * torch.nn.functional.one_hot(labels.guitar_id, d)[:, None, :]).requires_grad_()
    mask = torch.ones(b, f, dtype=torch.bool)
    head = GuitarAdversary(d, classes=8, n_descriptors=len(DESCRIPTORS))
    loss = head.loss(memory, mask, labels)["adversary"]
    loss.backward()
    lr = 1e-2
    with torch.no_grad():
        base = float(head.loss(memory, mask, labels)["adversary"])
        for p in head.parameters():
            p -= lr * p.grad
        after_head = float(head.loss(memory, mask, labels)["adversary"])
        for p in head.parameters():
            p += lr * p.grad
        after_memory = float(head.loss(memory - lr * memory.grad, mask, labels)["adversary"])
    assert after_head < base < after_memory


def test_pool_is_the_mean_of_the_valid_frames() -> None:
    memory = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    assert torch.equal(pool(memory, mask), torch.stack([memory[0, :2].mean(0), memory[1].mean(0)]))


def test_identity_classes_separate_few_guitars_and_mix_parts() -> None:
    ids = torch.arange(16)
    assert len(set(identity_class(torch.zeros(16, dtype=torch.int64), ids, 64).tolist())) == 16  # procedural:16
    parts = torch.arange(5)
    assert len(set(identity_class(parts, torch.full((5,), -1), 64).tolist())) == 5  # five non-procedural parts
    assert identity_class(torch.tensor([0]), torch.tensor([-1]), 64).item() == 0


# --- labels from the data --------------------------------------------------------------------


def test_descriptors_are_the_guitars_make_up_in_unit_range() -> None:
    for gid in range(40):
        g = draw_guitar(gid)
        d = guitar_descriptors(g)
        assert d.shape == (len(DESCRIPTORS),) and d.dtype == np.float32 and np.all((d >= 0) & (d <= 1))
        assert d[DESCRIPTORS.index("electric")] == float(g.body == "electric")
        assert d[DESCRIPTORS.index("miked")] == float(g.output == "mic")
        assert d[DESCRIPTORS.index("damping")] == pytest.approx(float(np.mean(g.damping)))


@pytest.mark.parametrize("spec", ["mix:procedural:3=0.5,synth=0.5", "procedural:5", "synth"])
def test_draw_dry_gives_the_sources_own_clip(spec: str) -> None:
    source = make_source(spec)
    for seed in range(4):
        clip, part, gid = draw_dry(source, np.random.default_rng(seed), 0.3)
        assert np.array_equal(clip, source.sample(np.random.default_rng(seed), 0.3))
        assert (gid >= 0) == (spec.startswith("procedural") or (spec.startswith("mix") and part == 0))


def test_items_say_who_played_them() -> None:
    ds = EffectsDataset("procedural:3", n=6, seed=1, duration_s=0.3)
    batch = collate([ds[i] for i in range(6)])
    assert batch["guitar_id"].shape == (6,) and set(batch["guitar_id"].tolist()) <= {0, 1, 2}
    assert batch["source_index"].tolist() == [0] * 6
    for gid, desc in zip(batch["guitar_id"].tolist(), batch["guitar_descriptors"]):
        assert torch.equal(desc, torch.from_numpy(guitar_descriptors(draw_guitar(gid))))
    synth = collate([EffectsDataset("synth", n=2, seed=1, duration_s=0.3)[i] for i in range(2)])
    assert synth["guitar_id"].tolist() == [-1, -1] and not synth["guitar_descriptors"].any()


def test_paired_labels_follow_the_stacked_clips() -> None:
    from ddspfx.data.recipe import Recipe

    ds = EffectsDataset("procedural", n=3, seed=2, duration_s=0.3, recipe=Recipe(pair=True))
    batch = collate([ds[i] for i in range(3)])
    labels = guitar_labels(batch)
    assert labels is not None
    assert labels.guitar_id.tolist() == batch["guitar_id"].tolist() + batch["guitar_id_pair"].tolist()
    assert labels.descriptors.shape == (6, len(DESCRIPTORS))
    assert labels.guitar_id[:3].tolist() != labels.guitar_id[3:].tolist()  # fresh guitars: the pair's are others


def test_folders_carry_the_labels_and_old_folders_still_load(tmp_path: Path) -> None:
    from ddspfx.data.layout import LABELS
    from ddspfx.data.materialise import write_dataset

    write_dataset(tmp_path, 2, source="procedural:4", seconds=0.3, progress=False)
    item = EffectsDataset.from_folder(tmp_path)[1]
    fresh = EffectsDataset("procedural:4", n=2, seed=0, duration_s=0.3)[1]
    assert int(item["guitar_id"]) == int(fresh["guitar_id"]) and torch.equal(item["guitar_descriptors"],
                                                                              fresh["guitar_descriptors"])
    lines = [json.loads(x) for x in (tmp_path / LABELS).read_text().splitlines()]
    for rec in lines:  # a folder made before the labels existed
        del rec["guitar_id"], rec["source_index"]
    (tmp_path / LABELS).write_text("".join(json.dumps(r) + "\n" for r in lines))
    old = EffectsDataset.from_folder(tmp_path)[1]
    assert "guitar_id" not in old and torch.equal(old["wet"], item["wet"])


# --- training ------------------------------------------------------------------------------


def _module(*overrides: str):
    from ddspfx.lightning_module import DdspfxLightning

    torch.manual_seed(0)
    return DdspfxLightning(load_config("debug", ["--loss.stft", "0", *overrides]).to_dict())


def _batch(spec: str = "procedural:3") -> dict:
    ds = EffectsDataset(spec, n=4, seed=3, duration_s=load_config("debug").data.duration_s)
    return collate([ds[i] for i in range(4)])


def test_weight_zero_is_the_training_without_an_adversary() -> None:
    """No head, no optimiser entry, no random draw: the same weights and the same first-step loss, bitwise,
    whether or not the batch carries the labels."""
    plain, with_head = _module(), _module("--loss.adversary", "0.1")
    assert plain.adversary is None and not any(k.startswith("adversary") for k in plain.state_dict())
    n_params = sum(len(g["params"]) for g in plain.configure_optimizers()["optimizer"].param_groups)
    assert n_params == len(list(plain.model.parameters()))
    for k, v in plain.model.state_dict().items():  # the head is built after the model: same initial weights
        assert torch.equal(v, with_head.model.state_dict()[k])
    batch = _batch()
    without = {k: v for k, v in batch.items() if not k.startswith(("guitar", "source_index"))}
    torch.manual_seed(1)
    a = plain._common_step(batch, "val")
    torch.manual_seed(1)
    b = plain._common_step(without, "val")
    assert torch.equal(a, b)
    torch.manual_seed(1)
    c = with_head._common_step(batch, "val").detach()
    adv = with_head.adversary.loss(with_head.model(batch)["memory"], with_head.model(batch)["memory_mask"],
                                   guitar_labels(batch))["adversary"]
    assert float(c) == pytest.approx(float(a) + 0.1 * float(adv), rel=1e-5)  # the closed-form sum
    with pytest.raises(DdspfxError, match="loss.adversary needs to know who played each clip"):
        with_head._common_step(without, "val")
    with pytest.raises(DdspfxError, match="loss.adversary must be >= 0"):
        _module("--loss.adversary", "-1")


def test_two_step_run_logs_the_adversary_and_exports_a_plain_model(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from ddspfx.checkpoint import load_model
    from ddspfx.model import DdspfxModel
    from ddspfx.training import initialise_from, train

    cfg = load_config("debug", ["--loss.adversary", "0.1", "--data.source", "procedural:4", "--trainer.max_steps", "2",
                                "--trainer.val_every", "2", "--trainer.log_audio", "false"])
    result = train(cfg, tmp_path, progress=False)
    events = EventAccumulator(str(tmp_path / "tb")).Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/adversary", "train/adversary_acc", "val/adversary"} <= tags
    losses = [e.value for e in events.Scalars("train/adversary")]
    assert len(losses) == 2 and all(np.isfinite(losses)) and all(v > 0 for v in losses)
    model = load_model(result["model"])  # the exported model holds no adversary: it loads like any other
    plain = DdspfxModel(load_config("debug").model)
    assert set(model.state_dict()) == set(plain.state_dict())
    initialise_from(plain, str(result["model"]))  # and a new run can start from it
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert any(k.startswith("adversary.") for k in ckpt["state_dict"])  # --resume keeps the head's weights
