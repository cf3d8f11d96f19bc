"""experiments.with_dry (issue 20): end to end on tiny clips, its baselines against references, its promises."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ddspfx.catalog import CLASSIC_EFFECTS, SAMPLE_RATE
from ddspfx.fileio import file_sha256
from experiments import with_dry
from experiments.evaluation.sets import make_set

ARGS = ["--n", "3", "--sources", "synth", "--seconds", "0.5", "--seed", "700000", "--budgets", "0.01",
        "--steps", "2", "--toggles", "0", "--effects", ",".join(CLASSIC_EFFECTS)]


def reference_si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant SDR (Le Roux et al. 2019) written out apart from ``ddspfx.metrics``: project, compare."""
    e = estimate.astype(np.float64) - estimate.mean()
    r = reference.astype(np.float64) - reference.mean()
    target = (e @ r) / (r @ r) * r
    return float(10.0 * np.log10((target @ target) / ((e - target) @ (e - target))))


@pytest.fixture(scope="module")
def run(tiny_checkpoint, dry_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("with_dry")
    code = with_dry.main([*ARGS, "--model", f"tiny={tiny_checkpoint}", "--dry-model", str(dry_checkpoint),
                          "--out", str(out)])
    return code, out, json.loads((out / "results.json").read_text())


def test_it_runs_end_to_end_and_writes_its_three_outputs(run, tiny_checkpoint, dry_checkpoint):
    code, out, results = run
    assert code == 0
    assert {p.name for p in out.iterdir()} >= {"report.md", "results.json", "quality_vs_time.png"}
    assert (out / "quality_vs_time.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert file_sha256(tiny_checkpoint) in report and file_sha256(dry_checkpoint) in report
    systems = [r["system"] for r in results["rows"]]
    assert systems == [with_dry.DRY, with_dry.TRUE, "blind: tiny", with_dry.DRY_AWARE, with_dry.TRUE_DRY,
                       with_dry.refined_name(None), with_dry.refined_name(0.01)]
    assert len(results["clips"]) == 3 and all(set(c["answers"]) == set(systems) for c in results["clips"])
    rows = {r["system"]: r for r in results["rows"]}
    assert rows[with_dry.DRY]["cpu_seconds_max"] == 0.0  # nothing to compute
    for system in (with_dry.DRY_AWARE, with_dry.refined_name(None)):  # each answer's own CPU time, one thread
        assert 0.0 < rows[system]["cpu_seconds_mean"] <= rows[system]["cpu_seconds_max"] < 60.0


def test_the_true_chain_is_the_upper_bound_and_the_dry_row_is_the_dry(run):
    _, _, results = run
    examples, _ = make_set("synth", 3, 700000, 0.5, effects=CLASSIC_EFFECTS)  # the same clips, made again: 5 pedals, none, a chorus
    assert [len(ex.chain) for ex in examples] == [5, 0, 1]
    for clip, ex in zip(results["clips"], examples):
        assert clip["truth"] == ex.chain.to_list()
        assert clip["answers"][with_dry.TRUE]["sisdr_db"] > 60.0  # the same pedalboard render: the float limit
        if ex.chain.pedals:
            expected = reference_si_sdr(ex.dry, ex.wet)
            assert clip["answers"][with_dry.DRY]["sisdr_db"] == pytest.approx(expected, abs=1e-3)
        else:  # wet and dry differ by a gain: no noise left to measure
            assert clip["answers"][with_dry.DRY]["sisdr_db"] > 60.0
    true_row = next(r for r in results["rows"] if r["system"] == with_dry.TRUE)
    assert true_row["micro_f1"] == 1.0 and true_row["exact_chain_acc"] == 1.0 and true_row["param_error"] == 0.0


def test_refinement_is_never_farther_from_the_clip_than_the_dry(run):
    _, _, results = run
    for name in (with_dry.refined_name(None), with_dry.refined_name(0.01)):
        for clip in results["clips"]:
            a = clip["answers"][name]
            assert a["refine"]["refined"] <= a["refine"]["dry"]  # refine's own promise, on the lined-up dry
        row = next(r for r in results["rows"] if r["system"] == name)
        assert row["worse_mrstft"] == 0.0  # and on the true dry, as the table reports it


def test_the_offset_is_found_and_the_level_undone(run):
    _, _, results = run
    assert all(c["offset"] != 0 and abs(c["gain_db"]) > 0.1 for c in results["clips"])  # something to find
    for clip in results["clips"]:
        for name in (with_dry.DRY_AWARE, with_dry.refined_name(None), with_dry.refined_name(0.01)):
            assert clip["answers"][name]["lag_found"] == clip["offset"]
    assert all(r["offset_found"] == 1.0 and r["offset_within_1"] == 1.0
               for r in results["rows"] if r["system"] == with_dry.DRY_AWARE or r["system"].startswith("refined"))


def test_the_dry_handed_over_comes_back_as_the_pedals_heard_it():
    from ddspfx.estimator import line_up_dry

    (ex,), _ = make_set("synth", 1, 700001, 0.5, effects=CLASSIC_EFFECTS)
    clip = with_dry.hand_over(ex, np.random.default_rng(3), SAMPLE_RATE)
    assert clip.offset != 0 and not np.allclose(clip.dry, ex.dry)
    dry, lag = line_up_dry(clip.dry, ex.wet, SAMPLE_RATE)
    assert lag == clip.offset
    keep = slice(abs(lag), dry.size - abs(lag))  # the samples shifted out at one end are gone
    np.testing.assert_allclose(dry[keep], ex.dry[keep], atol=2e-3)


def test_without_a_dry_aware_model_the_row_is_left_out_and_said(tiny_checkpoint, tmp_path, monkeypatch):
    import ddspfx.checkpoint

    monkeypatch.setattr(ddspfx.checkpoint, "DEFAULT_DRY_CHECKPOINT", tmp_path / "default_dry.safetensors")
    args = with_dry.build_parser().parse_args(["--model", f"tiny={tiny_checkpoint}"])
    blind, dry_model, note = with_dry.load_models(args)
    assert list(blind) == ["tiny"] and dry_model is None
    assert "No dry-aware model" in note and "`tiny`" in note


@pytest.mark.parametrize(("extra", "message"), [
    (["--budgets", "1,x"], "--budgets takes seconds"),
    (["--budgets", "0,3"], "--budgets must be positive"),
    (["--n", "0"], "--n must be >= 1"),
    (["--model", "tiny"], "--model 'tiny': write NAME=CHECKPOINT"),
    (["--model", "a=x", "--model", "a=y"], "--model 'a' is given twice"),
])
def test_bad_input_is_one_line(extra, message, capsys, tmp_path):
    assert with_dry.main([*extra, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_a_blind_model_is_not_taken_as_the_dry_aware_one(tiny_checkpoint, capsys, tmp_path):
    assert with_dry.main(["--model", f"tiny={tiny_checkpoint}", "--dry-model", str(tiny_checkpoint),
                          "--out", str(tmp_path)]) == 2
    assert "is a blind model" in capsys.readouterr().err


def test_budgets_put_infers_default_first():
    assert with_dry.parse_budgets("10,1,3,3") == [None, 1.0, 3.0, 10.0]
    from ddspfx.config import DEFAULT_BUDGET_S

    assert with_dry.parse_budgets(f"1,{DEFAULT_BUDGET_S}") == [None, 1.0]  # the default is run once


def test_without_refinement_only_the_models_answer_and_their_clean_alarms_are_counted(tiny_checkpoint, dry_checkpoint,
                                                                                      tmp_path):
    assert with_dry.main([*ARGS, "--no-refine", "--model", f"tiny={tiny_checkpoint}", "--dry-model",
                          str(dry_checkpoint), "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["system"] for r in results["rows"]] == [with_dry.DRY, with_dry.TRUE, "blind: tiny", with_dry.DRY_AWARE,
                                                      with_dry.TRUE_DRY]
    assert not (tmp_path / "quality_vs_time.png").exists()
    for row in results["rows"]:
        if row["system"] in ("blind: tiny", with_dry.DRY_AWARE):  # the share of clean clips given any pedal
            shares = [len(c["answers"][row["system"]]["clean"]) > 0 for c in results["clips"]]
            assert row["clean_any"] == pytest.approx(np.mean(shares))
    assert "Targets of the issue, dry-aware" in (tmp_path / "report.md").read_text()


def test_plugins_from_needs_the_plugin_renderer(capsys, tmp_path):
    assert with_dry.main(["--plugins-from", "held-out", "--out", str(tmp_path)]) == 2
    assert "--plugins-from needs --renderer plugins" in capsys.readouterr().err


@pytest.fixture
def stopped_run(run, tmp_path):
    """A copy of the module's run folder, as a run stopped after its three clips would leave it."""
    import shutil

    _, out, _ = run
    shutil.copytree(out, tmp_path / "run")
    return tmp_path / "run"


def test_resume_reads_every_answer_back_and_answers_only_new_clips(run, stopped_run, tiny_checkpoint, dry_checkpoint,
                                                                   monkeypatch):
    _, _, first = run
    made: list[int] = []
    answer = with_dry.answer_clip

    def counted(clip, *a, **k):
        made.append(1)
        return answer(clip, *a, **k)

    monkeypatch.setattr(with_dry, "answer_clip", counted)
    args = [*ARGS, "--model", f"tiny={tiny_checkpoint}", "--dry-model", str(dry_checkpoint), "--out", str(stopped_run)]
    assert with_dry.main([*args, "--resume"]) == 0 and made == []
    again = json.loads((stopped_run / "results.json").read_text())
    assert again["clips"] == first["clips"] and again["rows"] == first["rows"]
    n4 = [a if a != "3" else "4" for a in args]
    assert with_dry.main([*n4, "--resume"]) == 0 and len(made) == 1  # clip 3 only
    lines = (stopped_run / "answers.jsonl").read_text().splitlines()
    assert len(lines) == 1 + 4 and json.loads(lines[0])["setup"]["steps"] == 2


def test_a_line_cut_short_by_a_kill_is_dropped_and_the_clip_answered_again(stopped_run, tiny_checkpoint,
                                                                           dry_checkpoint):
    cache = stopped_run / "answers.jsonl"
    lines = cache.read_text().splitlines()
    cache.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])  # clip 2's line torn
    args = [*ARGS, "--model", f"tiny={tiny_checkpoint}", "--dry-model", str(dry_checkpoint), "--out", str(stopped_run)]
    assert with_dry.main([*args, "--resume"]) == 0
    back = [json.loads(line) for line in cache.read_text().splitlines()]
    assert [r["index"] for r in back[1:]] == [0, 1, 2]


def test_an_earlier_run_is_neither_overwritten_nor_mixed_with_other_settings(stopped_run, tiny_checkpoint,
                                                                            dry_checkpoint, capsys):
    before = (stopped_run / "answers.jsonl").read_bytes()
    args = [*ARGS, "--model", f"tiny={tiny_checkpoint}", "--dry-model", str(dry_checkpoint), "--out", str(stopped_run)]
    assert with_dry.main(args) == 2
    assert "pass --resume" in capsys.readouterr().err
    other = [a if a != "2" else "3" for a in args]  # --steps 3
    assert with_dry.main([*other, "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "steps: 2 then, 3 now" in err[0]
    assert (stopped_run / "answers.jsonl").read_bytes() == before
