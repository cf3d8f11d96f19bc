"""The studies' ``--model NAME=CHECKPOINT`` (``--compare`` in ood_check and tone_false_alarms): one parser
(``experiments.evaluation.models.model_paths``), so a bad spec is the same one-line error in every study, raised
before any model is loaded or clip is rendered (the paths below do not exist: reaching them would say so instead)."""

from __future__ import annotations

import importlib

import pytest

# study -> the spelling of its option (ood_check and tone_false_alarms also take --model)
STUDIES = {"real_sources": "--model", "with_dry": "--model", "room_check": "--model", "ood_check": "--compare",
           "tone_false_alarms": "--compare"}
CASES = [
    (["tiny"], "--model 'tiny': write NAME=CHECKPOINT"),
    (["=no/such/model"], "--model '=no/such/model': write NAME=CHECKPOINT"),
    (["a=no/such/a", " a =no/such/b"], "--model 'a' is given twice"),
]


def one_line_error(study: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    main = importlib.import_module(f"experiments.{study}").main
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


@pytest.mark.parametrize("study", STUDIES)
@pytest.mark.parametrize(("specs", "message"), CASES)
def test_a_bad_model_spec_is_one_line(study, specs, message, capsys, tmp_path):
    argv = [a for spec in specs for a in (STUDIES[study], spec)] + ["--out", str(tmp_path / "out")]
    assert message in one_line_error(study, argv, capsys)
    assert not (tmp_path / "out").exists()  # nothing written


@pytest.mark.parametrize("study", ["ood_check", "tone_false_alarms"])
def test_compare_is_also_spelled_model_so_the_message_names_a_real_option(study, capsys, tmp_path):
    assert "write NAME=CHECKPOINT" in one_line_error(study, ["--model", "tiny", "--out", str(tmp_path)], capsys)


def test_tone_false_alarms_does_not_let_a_compared_model_replace_the_main_one(capsys, tmp_path):
    err = one_line_error("tone_false_alarms", ["--compare", "shipped=no/such/model", "--out", str(tmp_path)], capsys)
    assert "--compare 'shipped'" in err
    err = one_line_error("tone_false_alarms", ["--checkpoint", "no/such/main", "--compare", "ddspfx=no/such/model",
                                               "--out", str(tmp_path)], capsys)
    assert "--compare 'ddspfx'" in err
