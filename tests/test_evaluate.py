"""The evaluator: perfect and known-wrong systems score as they must; the CLI writes its report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ddspfx.chain import Chain
from ddspfx.evaluate import main
from ddspfx.metrics import reorder
from ddspfx.scoring import Scorer, make_examples


@pytest.fixture(scope="module")
def examples():
    return make_examples("synth", 6, seed=0, seconds=1.0, max_effects=4, order="uniform")


def test_truth_scores_perfectly_and_dry_scores_zero(examples):
    perfect, dry = Scorer(), Scorer()
    for ex in examples:
        perfect.add(ex, ex.chain)
        dry.add(ex, Chain())
    p, d = perfect.summary(), dry.summary()
    assert p["micro_f1"] == 1.0 and p["exact_chain_acc"] == 1.0 and p["equivalent_chain_acc"] == 1.0
    assert p["param_error"] == pytest.approx(0.0, abs=1e-9)
    assert p["rerender_mrstft"] == pytest.approx(0.0, abs=1e-4)  # pedalboard re-render = the wet (gain-free metric)
    assert d["micro_recall"] == pytest.approx(0.0 if any(len(e.chain) for e in examples) else 1.0)
    assert d["exact_chain_acc"] == pytest.approx(sum(len(e.chain) == 0 for e in examples) / len(examples))


def test_per_knob_error_and_per_pedal_table():
    """One knob off by a known amount: that knob's error is the amount, its siblings' 0, the mean is split."""
    from ddspfx.catalog import get_effect, normalise_params
    from ddspfx.chain import Pedal
    from ddspfx.scoring import LabelledClip, per_pedal_table

    true = {"threshold_db": -30.0, "ratio": 4.0, "attack_ms": 5.0, "release_ms": 100.0}
    wrong = dict(true, ratio=8.0)
    d = abs(normalise_params("compressor", wrong) - normalise_params("compressor", true))[1]
    sc = Scorer(rerender=False)
    silent = np.zeros(100, dtype=np.float32)
    sc.add(LabelledClip(silent, silent, Chain([Pedal("compressor", true)])), Chain([Pedal("compressor", wrong)]))
    r = sc.summary()
    assert r["param_error/compressor.ratio"] == pytest.approx(d) and d > 0.1
    assert r["param_error/compressor.threshold_db"] == 0.0
    assert r["param_error"] == pytest.approx(d / len(get_effect("compressor").params))
    table = per_pedal_table({"model": r, "no knobs": {"micro_f1": 0.0}})
    assert "| ratio err | " + f"{d:.3f} |" in table and "no knobs" not in table


def test_reversed_nonlinear_order_is_not_equivalent(examples):
    """compressor before vs after distortion is audible: the tau test must say so."""
    from ddspfx.chain import Pedal

    ex = examples[0]
    chain = Chain([Pedal("compressor", {"threshold_db": -35.0, "ratio": 8.0, "attack_ms": 2.0, "release_ms": 100.0}),
                   Pedal("distortion", {"drive_db": 30.0})])
    from ddspfx.render import render_chain

    wet, _ = render_chain(ex.dry, chain, 44100)
    ex2 = type(ex)(dry=ex.dry, wet=wet, chain=chain)
    sc = Scorer()
    sc.add(ex2, reorder(chain, ["distortion", "compressor"]))
    s = sc.summary()
    assert s["exact_chain_acc"] == 0.0 and s["equivalent_chain_acc"] == 0.0 and s["micro_f1"] == 1.0
    assert s["pairwise_order_acc_nonlinear"] == 0.0


def test_cli_writes_report_json_and_plots(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["--checkpoint", str(tiny_checkpoint), "--n", "4", "--seconds", "1.0", "--max-effects", "3",
                 "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())["results"]
    assert {"ddspfx", "no effect (dry)", "true set, random order"} <= set(results)
    assert results["true set, random order"]["micro_f1"] == 1.0
    assert (out / "presence_confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert "| ddspfx |" in (out / "report.md").read_text()
    assert main(["--n", "0"]) == 2


def test_right_set_splits_equivalence_into_set_and_order(examples):
    """equivalent = right set x equivalent-given-right-set; a missing pedal is a wrong set, a swap is not."""
    from ddspfx.chain import Pedal
    from ddspfx.render import render_chain

    ex = examples[0]
    comp = {"threshold_db": -35.0, "ratio": 8.0, "attack_ms": 2.0, "release_ms": 100.0}
    chain = Chain([Pedal("compressor", comp), Pedal("distortion", {"drive_db": 30.0})])
    wet, _ = render_chain(ex.dry, chain, 44100)
    ex2 = type(ex)(dry=ex.dry, wet=wet, chain=chain)
    sc = Scorer(rerender=False)
    sc.add(ex2, chain)  # right set, right order
    sc.add(ex2, reorder(chain, ["distortion", "compressor"]))  # right set, audibly wrong order
    comp_only = Chain([Pedal("compressor", comp)])
    sc.add(ex2, comp_only)  # a pedal missing
    sc.add(ex2, comp_only)
    s = sc.summary()
    assert s["set_acc"] == pytest.approx(2 / 4)
    assert s["equivalent_given_set"] == pytest.approx(1 / 2)
    assert s["equivalent_chain_acc"] == pytest.approx(s["set_acc"] * s["equivalent_given_set"])
    assert s["set_acc_without/distortion"] == 1.0  # the missing pedal was the distortion
    assert s["set_acc_without/compressor"] == s["set_acc_without/eq"] == pytest.approx(2 / 4)
