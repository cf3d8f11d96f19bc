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
