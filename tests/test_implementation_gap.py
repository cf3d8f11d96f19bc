"""experiments.implementation_gap: the paired decomposition against counts worked out by hand, and its refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from experiments.implementation_gap import main


def pedal(effect: str, mix: float = 0.5) -> dict[str, Any]:
    return {"effect": effect, "params": {"mix": mix}}


def clip(index: int, truth: list[str], impls: list[str], predicted: list[str], model: str = "M") -> dict[str, Any]:
    return {"source": "s", "model": model, "index": index, "truth": [pedal(e) for e in truth],
            "implementations": impls, "predicted": [pedal(e) for e in predicted]}


# Four clips of one source. Per clip: truth; pedalboard's answer (reference); the plugins' answer (other).
#   0: {compressor, chorus}   ref {compressor, chorus}   other {compressor, reverb}
#        chorus missed only with the plugin; reverb a false alarm only with the plugin
#   1: {distortion, eq}       ref {distortion}           other {eq, reverb}
#        distortion missed only with the plugin, eq missed only with pedalboard; reverb a plugin-only false alarm
#   2: {delay}                ref {reverb}               other {reverb}
#        delay missed with both; reverb a false alarm with both
#   3: {} (clean)             ref {eq}                   other {eq}
#        eq a false alarm with both; some pedal reported on the clean clip under both renderers
# Pedals: 2 + 2 + 1 = 5.
# Reference: TP = 2 + 1 = 3, FP = 2 (clip 2 reverb, clip 3 eq), FN = 2 (eq, delay) -> P = 3/5, R = 3/5, F1 = 3/5.
# Other: TP = 1 + 1 = 2, FP = 4 (reverb x3, eq), FN = 3 (chorus, distortion, delay) -> P = 2/6, R = 2/5,
#   F1 = 2 (1/3)(2/5) / (1/3 + 2/5) = 4/11.
# Misses of the other clips: both 1 (delay), other only 2 (chorus, distortion); reference only 1 (eq): 1 + 2 = FN 3.
# False alarms: both 2 (clip 2 reverb, clip 3 eq), other only 2 (clip 0, 1 reverb), reference only 0: 2 + 2 = FP 4.
REFERENCE_CLIPS = [
    clip(0, ["compressor", "chorus"], ["pedalboard"] * 2, ["compressor", "chorus"]),
    clip(1, ["distortion", "eq"], ["pedalboard"] * 2, ["distortion"]),
    clip(2, ["delay"], ["pedalboard"], ["reverb"]),
    clip(3, [], [], ["eq"]),
]
OTHER_CLIPS = [
    clip(0, ["compressor", "chorus"], ["caps/compress", "calf/multichorus"], ["compressor", "reverb"]),
    clip(1, ["distortion", "eq"], ["gx/ts9", "calf/eq5"], ["eq", "reverb"]),
    clip(2, ["delay"], ["calf/vintage_delay"], ["reverb"]),
    clip(3, [], [], ["eq"]),
    clip(0, ["delay"], ["calf/vintage_delay"], ["delay"], model="B"),  # a second model, only in the other file
]


def results(renderer: str, clips: list[dict[str, Any]], rows: list[dict[str, Any]],
            recall: list[dict[str, Any]]) -> dict[str, Any]:
    return {"setup": {"seed": 0, "renderer": renderer, "plugins_from": "judges" if renderer == "plugins" else ""},
            "provenance": {"M": {"checkpoint": "m.safetensors", "sha256": "abc", "trained_on": "synth",
                                 "git_commit": "c0ffee"}},
            "rows": rows, "implementation_recall": recall, "clips": clips}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    ref = results("pedalboard", REFERENCE_CLIPS,
                  [{"source": "s", "model": "M", "micro_precision": 0.6, "micro_recall": 0.6, "micro_f1": 0.6}],
                  [{"source": "s", "model": "M", "pedalboard": 3 / 5, "n/pedalboard": 5.0}])
    other = results("plugins", OTHER_CLIPS,
                    [{"source": "s", "model": "M", "micro_precision": 1 / 3, "micro_recall": 0.4, "micro_f1": 4 / 11}],
                    [{"source": "s", "model": "M", "caps/compress": 1.0, "calf/multichorus": 0.0, "gx/ts9": 0.0,
                      "calf/eq5": 1.0, "calf/vintage_delay": 0.0}])
    paths = tmp_path / "ref.json", tmp_path / "other.json"
    for p, d in zip(paths, (ref, other)):
        p.write_text(json.dumps(d))
    return paths


def run(ref: Path, other: Path, out: Path, model: str = "M") -> int:
    return main(["--reference", str(ref), "--other", str(other), "--model", model, "--out", str(out)])


def test_the_decomposition_matches_the_hand_counts(files, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(*files, out) == 0
    gap = json.loads((out / "gap.json").read_text())
    s = gap["per_source"]["s"]
    assert (s["clips"], s["pedals"], s["clean_clips"]) == (4, 5, 1)
    assert s["precision_reference"] == pytest.approx(3 / 5) and s["recall_reference"] == pytest.approx(3 / 5)
    assert s["precision_other"] == pytest.approx(1 / 3) and s["recall_other"] == pytest.approx(2 / 5)
    assert s["f1_other"] == pytest.approx(4 / 11)
    assert s["precision_if_gap_closed"] == pytest.approx(3 / 5)  # pedalboard's precision on the same clips
    assert (s["miss_both"], s["miss_other_only"], s["miss_reference_only"]) == (1, 2, 1)
    assert (s["fa_both"], s["fa_other_only"], s["fa_reference_only"]) == (2, 2, 0)
    assert s["clean_any_reference"] == s["clean_any_other"] == 1.0 and s["clean_same_answer"] == 1
    assert gap["per_source"]["all"] == s  # one source: pooled = that source
    assert gap["paired_clips"] == 4 and gap["duplicate_type_chains"] == 0 and gap["same_weights"]
    assert gap["files"]["other"]["label"] == "plugins (judges)"
    report = capsys.readouterr().out
    assert report == (out / "report.md").read_text() + "\n"
    assert "| s | 4 | 5 | 1 | 0.600 → 0.333 | 0.600 → 0.400 | 0.600 → 0.364 | 1 / 2 / 1 | 2 / 2 / 0 | 1.00 → 1.00 |" in report
    assert "Precision if the implementation gap closed: 0.600" in report
    assert "paired s/M: pedalboard precision 0.6000, recall 0.6000 = ref.json's row" in report
    assert (out / "recall_by_effect.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_per_effect_rates(files, tmp_path):
    run(*files, tmp_path)
    per = json.loads((tmp_path / "gap.json").read_text())["per_effect"]["all"]
    # eq: one true pedal (clip 1) missed by pedalboard, found by the plugin; false alarm on clip 3 of the 3 without eq
    assert per["eq"]["pedals"] == 1 and per["eq"]["clips_without"] == 3
    assert (per["eq"]["recall_reference"], per["eq"]["recall_other"]) == (0.0, 1.0)
    assert per["eq"]["fa_rate_reference"] == per["eq"]["fa_rate_other"] == pytest.approx(1 / 3)
    # reverb: in no truth; reported on clip 2 by pedalboard (1 of 4), on clips 0, 1, 2 with the plugins (3 of 4)
    assert (per["reverb"]["fa_rate_reference"], per["reverb"]["fa_rate_other"]) == (0.25, 0.75)
    assert (per["chorus"]["recall_reference"], per["chorus"]["recall_other"]) == (1.0, 0.0)


def test_per_implementation_and_family_worst_gap_first(files, tmp_path):
    run(*files, tmp_path)
    gap = json.loads((tmp_path / "gap.json").read_text())
    rows = [(r["name"], r["n"], r["recall_reference"], r["recall_other"], r["gap"]) for r in gap["per_implementation"]]
    # multichorus and ts9: found with pedalboard, missed with the plugin; eq5 the reverse; ties by name
    assert rows == [("calf/multichorus", 1, 1.0, 0.0, 1.0), ("gx/ts9", 1, 1.0, 0.0, 1.0),
                    ("calf/vintage_delay", 1, 0.0, 0.0, 0.0), ("caps/compress", 1, 1.0, 1.0, 0.0),
                    ("calf/eq5", 1, 0.0, 1.0, -1.0)]
    # calf = multichorus (1, 0) + eq5 (0, 1) + vintage_delay (0, 0): 1 of 3 under each renderer
    fam = {r["name"]: (r["n"], r["hits_reference"], r["hits_other"], r["effects"]) for r in gap["per_family"]}
    assert fam == {"gx": (1, 1, 0, ["distortion"]), "calf": (3, 1, 1, ["eq", "chorus", "delay"]),
                   "caps": (1, 1, 1, ["compressor"])}
    assert [r["name"] for r in gap["per_family"]] == ["gx", "calf", "caps"]


def test_other_models_are_shown_where_present(files, tmp_path, capsys):
    run(*files, tmp_path)
    assert ("- s, B: plugins (judges): P 1.000 / R 1.000 / µF1 1.000; pedalboard: not in the reference file"
            in capsys.readouterr().out)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("ddspfx: error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def test_refuses_pairs_whose_truths_differ(files, tmp_path, capsys):
    ref, other = files
    data = json.loads(other.read_text())
    data["clips"][1]["truth"][0]["params"]["mix"] = 0.51  # same types, another knob: not the same clip
    other.write_text(json.dumps(data))
    assert run(ref, other, tmp_path / "out") == 2
    assert "1 of 4 paired clips have different true chains" in one_line_error(capsys)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("model", ["Z", "B"])  # in neither file; only in the other file
def test_refuses_a_model_missing_from_a_file(files, tmp_path, capsys, model):
    assert run(*files, tmp_path / "out", model) == 2
    assert f"model {model!r} is not in both files" in one_line_error(capsys)


def test_refuses_a_file_whose_rows_disagree_with_its_clips(files, tmp_path, capsys):
    ref, other = files
    data = json.loads(ref.read_text())
    data["rows"][0]["micro_precision"] = 0.7
    ref.write_text(json.dumps(data))
    assert run(ref, other, tmp_path / "out") == 2
    assert "the file disagrees with itself" in one_line_error(capsys)


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("{not json", "not JSON"),
    ('{"rows": []}', "no 'clips' list"),
    ('{"clips": [{"source": "s"}]}', "clip 0 is not a real_sources clip"),
])
def test_refuses_unusable_files(files, tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    assert run(files[0], bad, tmp_path / "out") == 2
    assert message in one_line_error(capsys)


def test_refuses_an_unknown_effect_type(files, tmp_path, capsys):
    ref, other = files
    data = json.loads(ref.read_text())
    data["clips"][0]["predicted"][0]["effect"] = "talkbox"
    ref.write_text(json.dumps(data))
    assert run(ref, other, tmp_path / "out") == 2
    assert "unknown effect types ['talkbox']" in one_line_error(capsys)
