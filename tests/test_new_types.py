"""experiments.new_types: per-type recall and precision, checked on systems whose answers are known by construction.

An oracle that answers each clip's true chain finds every type (recall 1, precision 1, micro-F1 1); "no pedal"
finds none (recall 0, never names anything); a system deaf to one type loses exactly that type's clips. The sets
are tiny (two 0.5-s clips per type of the synthetic guitar) and rendered by both renderers.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
from deb_packages import skip_or_fail

from ddspfx.chain import Chain
from ddspfx.errors import DdspfxError
from ddspfx.plugins import lv2
from ddspfx.plugins.render import is_installed
from ddspfx.plugins.table import HELD_OUT, get_implementation
from experiments.new_types import (
    NO_HELD_OUT,
    Study,
    StudyConfig,
    held_out_implementation,
    main,
    run_study,
    target_verdict,
    targets,
    type_table,
)

TYPES = ("flanger", "wah", "tremolo")
N = 2


def oracle(examples):
    return [ex.chain for ex in examples]


def deaf_to_wah(examples):
    return [Chain([p for p in ex.chain if p.effect != "wah"]) for ex in examples]


@pytest.fixture(scope="module")
def study() -> Study:
    cfg = StudyConfig(sources=("synth",), effects=TYPES, n=N, chain_n=N, seconds=0.5)
    impls = [get_implementation(name) for name in map(held_out_implementation, TYPES) if name is not None]
    absent = [i for i in impls if not is_installed(i)]
    if absent:  # the held-out renderer needs each held-out plugin: skip naming a missing package, else fail
        skip_or_fail(DdspfxError(f"held-out implementations not found: {', '.join(i.name for i in absent)}"),
                     *(lv2.LILV_PACKAGE for i in absent if i.host == "lv2"), *(i.package for i in absent))
    return run_study(cfg, {"oracle": oracle, "deaf to wah": deaf_to_wah})


def test_each_single_pedal_clip_holds_its_one_type_rendered_by_the_held_out_implementation(study: Study) -> None:
    for ts in (study.set_of("single", "pedalboard"), study.set_of("single", "held-out")):
        assert ts is not None
        truths = [ex.chain.effects for ex in ts.examples]
        assert all(len(t) == 1 for t in truths)
        assert sorted(t[0] for t in truths) == sorted(e for e in ts.effects for _ in range(N))
    held = study.set_of("single", "held-out")
    assert held is not None and "tremolo" not in held.effects  # no held-out tremolo exists; no judge stands in
    for ex, impls in zip(held.examples, held.implementations):
        assert impls == [held_out_implementation(ex.chain.effects[0])] and impls[0] in HELD_OUT
    # clip i of a type plays the same dry phrase whoever renders it; only the wet differs
    ref = study.set_of("single", "pedalboard")
    assert ref is not None
    for a, b in zip([ex for ex in ref.examples if ex.chain.effects == ["wah"]],
                    [ex for ex in held.examples if ex.chain.effects == ["wah"]]):
        assert (a.dry == b.dry).all() and not (a.wet.shape == b.wet.shape and (a.wet == b.wet).all())


def test_the_oracle_finds_every_type_and_names_nothing_else(study: Study) -> None:
    assert len(study.scores) == 4 * 4  # (single, chains) x (pedalboard, held-out) x (2 systems + 2 baselines)
    for (kind, renderer, system), s in study.scores.items():
        if system == "oracle":
            assert s["micro_f1"] == 1.0
            assert all(t["recall"] == 1.0 and t["precision"] == 1.0 for t in s["types"].values())
            assert set(s["types"]) == set(study.set_of(kind, renderer).effects)  # type: ignore[union-attr]


def test_no_pedal_finds_nothing(study: Study) -> None:
    for (_, _, system), s in study.scores.items():
        if system == "baseline: no pedal":
            assert s["micro_f1"] == 0.0
            assert all(t["recall"] == 0.0 and math.isnan(t["precision"]) and t["named"] == 0
                       for t in s["types"].values())


def test_a_system_deaf_to_one_type_loses_exactly_its_clips(study: Study) -> None:
    s = study.scores[("single", "pedalboard", "deaf to wah")]
    assert s["types"]["wah"]["recall"] == 0.0 and s["types"]["wah"]["n"] == N
    assert all(s["types"][e]["recall"] == 1.0 and s["types"][e]["precision"] == 1.0 for e in ("flanger", "tremolo"))
    tp, fn = 2 * N, N  # flanger and tremolo found, the wah clips missed, nothing false
    assert s["micro_f1"] == pytest.approx(2 * tp / (2 * tp + fn))
    assert s["named_on"]["wah"] == {"nothing": 1.0} and s["named_on"]["flanger"] == {"flanger": 1.0}
    held = study.scores[("single", "held-out", "deaf to wah")]
    assert held["micro_f1"] == pytest.approx(2 * N / (2 * N + N))  # no tremolo clips there


def test_the_tables_and_targets_say_tremolo_has_no_held_out_implementation(study: Study) -> None:
    table = type_table(study, "single", ["oracle", "deaf to wah"])
    row = next(line for line in table.splitlines() if line.startswith("| tremolo |"))
    assert NO_HELD_OUT in row and row.count("n/a") == 2
    verdicts = targets(study, ["oracle", "deaf to wah"])
    assert verdicts["oracle"]["tremolo"] == (None, f"not measurable: {NO_HELD_OUT}")
    assert verdicts["oracle"]["flanger"][0] is True and verdicts["oracle"]["wah"][0] is True
    assert verdicts["deaf to wah"]["wah"][0] is False and verdicts["deaf to wah"]["flanger"][0] is True


@pytest.mark.parametrize(("recall", "precision", "met"), [
    (0.80, 0.80, True), (1.0, 0.79, False), (0.79, 1.0, False), (0.0, float("nan"), False)])
def test_the_target_needs_recall_and_precision_of_at_least_080(recall: float, precision: float, met: bool) -> None:
    scores = {"types": {"flanger": {"recall": recall, "precision": precision, "n": 10}}}
    assert target_verdict(scores, "flanger")[0] is met


def test_a_model_that_does_not_know_a_type_never_names_it(tmp_path: Path) -> None:
    """End to end through the command line with an untrained tiny model that knows two classic types only."""
    import torch

    from ddspfx.checkpoint import save_model
    from ddspfx.config import load_config
    from ddspfx.model import DdspfxModel

    torch.manual_seed(0)
    cfg = load_config("debug", ["--model.effects", "compressor,delay", "--model.max_effects", "2"])
    ckpt = tmp_path / "two.safetensors"
    save_model(DdspfxModel(cfg.model, clip_seconds=cfg.data.duration_s), ckpt, data={"source": "none (test)"})
    out = tmp_path / "out"
    assert main(["--n", "1", "--chain-n", "1", "--seconds", "0.5", "--sources", "synth", "--effects", "flanger,wah",
                 "--renderers", "pedalboard", "--model", f"two={ckpt}", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    for row in results["scores"]:
        if row["system"] == "two":
            assert row["types"]["flanger"]["recall"] == 0.0 and row["types"]["wah"]["recall"] == 0.0
    assert results["provenance"]["two"]["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert isinstance(results["tree_clean"], bool) and results["git_commit"]
    assert (out / "recall.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "does not know flanger, wah" in (out / "report.md").read_text()


@pytest.mark.parametrize(("argv", "says"), [
    (["--effects", "flangr"], "unknown effect(s) flangr"),
    (["--renderers", "judges"], "--renderers 'judges': choose from pedalboard, held-out"),
    (["--model", "no-equals-sign"], "write NAME=CHECKPOINT"),
])
def test_bad_input_is_one_line_and_writes_nothing(argv: list[str], says: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("ddspfx: error: ") and says in err
    assert not (tmp_path / "out").exists()
