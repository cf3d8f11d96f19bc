"""The evaluator: perfect and known-wrong systems score as they must; the CLI writes its report."""

from __future__ import annotations

import json

import pytest

from ddspfx.chain import Chain
from ddspfx.evaluate import Scorer, main, make_examples
from ddspfx.metrics import reorder


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
