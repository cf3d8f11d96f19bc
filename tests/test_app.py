"""The web app (``python -m ddspfx.app``): its pure functions, its HTTP API, the listening test and report.

Skipped as a whole without the ``app`` extra (Gradio). Uses the shipped model on 3-s clips.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("gradio", reason="the web app needs the app extra: pip install 'ddspfx[app]'")

from ddspfx.analysis import Analysis  # noqa: E402
from ddspfx.app.analysis import analyse_upload, chain_html, error_line, pedalboard_snippet, read_clip  # noqa: E402
from ddspfx.app.listening import CONDITIONS, ListeningTest, RatingStore, lowpass_anchor, read_ratings  # noqa: E402
from ddspfx.app.report import write_report  # noqa: E402
from ddspfx.chain import Chain  # noqa: E402
from ddspfx.errors import DdspfxError  # noqa: E402
from ddspfx.estimator import Estimator, line_up_dry  # noqa: E402
from ddspfx.render import render_chain  # noqa: E402

SR = 44_100

pytestmark = [  # Gradio's queue calls pandas APIs that pandas 3 deprecates: theirs, not ours
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning"),
]
TRUE_CHAIN = Chain.from_list([
    {"effect": "distortion", "params": {"drive_db": 25.0}},
    {"effect": "delay", "params": {"delay_seconds": 0.3, "feedback": 0.4, "mix": 0.4}},
])


@pytest.fixture(scope="module")
def estimator() -> Estimator:
    return Estimator()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 3-s synthetic phrase (dry) and TRUE_CHAIN on it (wet), as wav files."""
    from ddspfx.sources import make_source

    root = tmp_path_factory.mktemp("clips")
    dry = make_source("synth", sample_rate=SR).sample(np.random.default_rng(3), 3.0)
    wet, _ = render_chain(dry, TRUE_CHAIN, SR)
    paths = {"wet": root / "riff.wav", "dry": root / "riff_dry.wav"}
    sf.write(paths["wet"], wet, SR)
    sf.write(paths["dry"], dry, SR)
    return paths


# --- bad input: the page says what the command line says ------------------------------------------------


def _bad_files(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    files = {"silent": folder / "silent.wav", "nan": folder / "nan.wav", "short": folder / "short.wav",
             "text": folder / "notes.wav", "empty": folder / "empty.wav"}
    sf.write(files["silent"], np.zeros(SR, np.float32), SR)
    noisy = rng.normal(0, 0.1, SR).astype(np.float32)
    noisy[100:110] = np.nan
    sf.write(files["nan"], noisy, SR, subtype="FLOAT")
    sf.write(files["short"], rng.normal(0, 0.1, SR // 10).astype(np.float32), SR)  # 0.1 s
    files["text"].write_text("not audio at all\n")
    sf.write(files["empty"], np.zeros(0, np.float32), SR)
    return files


def test_bad_uploads_get_the_command_lines_one_line_messages(tmp_path: Path) -> None:
    files = _bad_files(tmp_path)
    names = [p.name for p in files.values()]
    cli = subprocess.run([sys.executable, "-m", "ddspfx.infer", *names], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    cli_lines = [line for line in cli.stderr.splitlines() if line.startswith("ddspfx: error:")]
    assert len(cli_lines) == len(files), cli.stderr
    # the page reads an upload from a temporary path but names it as the visitor did
    upload_dir = tmp_path / "gradio" / "f00d"
    upload_dir.mkdir(parents=True)
    page_lines = []
    for path in files.values():
        upload = upload_dir / path.name
        upload.write_bytes(path.read_bytes())
        with pytest.raises(DdspfxError) as info:
            read_clip(upload, SR, name=path.name)
        page_lines.append(error_line(info.value))
    assert page_lines == cli_lines
    assert all("\n" not in line and str(upload_dir) not in line for line in page_lines)
    assert "silent" in page_lines[0] and "NaN" in page_lines[1] and "0.10 s long" in page_lines[2]


def test_an_upload_over_the_size_cap_is_refused_before_it_is_decoded(clips: dict[str, Path]) -> None:
    size_mb = clips["wet"].stat().st_size / 1e6
    with pytest.raises(DdspfxError, match=r"^riff\.wav is 0\.\d MB; the page takes files up to 0 MB"):
        read_clip(clips["wet"], SR, max_mb=size_mb / 2)
    assert read_clip(clips["wet"], SR, max_mb=size_mb * 2).shape == (3 * SR,)


def test_any_rate_and_channel_count_is_read(tmp_path: Path, clips: dict[str, Path]) -> None:
    x, _ = sf.read(clips["wet"], dtype="float32")
    from ddspfx.audio import resample

    stereo_22k = np.stack([resample(x, SR, 22_050)] * 2, axis=1)  # (T, 2)
    path = tmp_path / "clip.flac"
    sf.write(path, stereo_22k, 22_050)
    y = read_clip(path, SR)
    assert y.ndim == 1 and abs(len(y) - len(x)) <= 2


# --- what the page shows and hands out -------------------------------------------------------------------


def test_snippet_builds_a_board_that_renders_the_chain_exactly(tmp_path: Path, clips: dict[str, Path]) -> None:
    chain = Chain.from_list([
        {"effect": "compressor", "params": {"threshold_db": -23.7, "ratio": 3.3, "attack_ms": 4.1, "release_ms": 130.0}},
        {"effect": "reverb", "params": {"room_size": 0.61, "damping": 0.3, "wet_level": 0.35, "dry_level": 0.8}},
    ])
    code = pedalboard_snippet(chain, source="riff.wav")
    (tmp_path / "my_dry_guitar.wav").write_bytes(clips["dry"].read_bytes())
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=60)
    ours, _ = render_chain(sf.read(clips["dry"], dtype="float32")[0], chain, SR)
    theirs, sr = sf.read(tmp_path / "my_wet_guitar.wav", dtype="float32")
    assert sr == SR
    np.testing.assert_allclose(theirs, ours, atol=1e-6)
    assert "pedalboard.Compressor(threshold_db=" in code and "pedalboard.Reverb(" in code


def test_chain_html_draws_pedals_in_order_with_units_confidences_and_the_runner_up() -> None:
    chain = Chain.from_list([
        {"effect": "distortion", "params": {"drive_db": 22.0}},
        {"effect": "delay", "params": {"delay_seconds": 0.38, "feedback": 0.35, "mix": 0.3}},
    ])
    swapped = Chain(list(reversed(chain.pedals)))
    analysis = Analysis(chain, {"distortion": 0.99, "delay": 0.95, "reverb": 0.41}, 0.6, [(swapped, 0.3)])
    page = chain_html(analysis)
    assert page.index('data-effect="distortion"') < page.index('data-effect="delay"')
    assert "drive 22.0 dB" in page and "time 380 ms" in page  # real units, as Pedal.describe writes them
    assert "present: 0.99" in page and "order confidence: 0.60" in page
    assert 'class="ddspfx-runner-up">delay -&gt; distortion</span> (p=0.30)' in page
    assert "possibly also: reverb 0.41" in page
    dry_page = chain_html(Analysis(Chain([]), {}, 1.0))
    assert "no effects (dry)" in dry_page


def test_analyse_upload_gives_the_infer_json_object_renders_and_downloads(
        tmp_path: Path, estimator: Estimator, clips: dict[str, Path]) -> None:
    seen: list[tuple[float, str]] = []
    page = analyse_upload(estimator, tmp_path / "job", str(clips["wet"]), dry_path=str(clips["dry"]),
                          your_dry_path=str(clips["dry"]), progress=lambda f, d: seen.append((f, d)))
    wet = read_clip(clips["wet"], SR)
    blind = estimator.analyse_many([wet])[0]
    assert page.record["chain"] == blind.chain.to_list()  # no --refine: the dry only measures
    with_dry = {"refine", "estimate", "dry_offset_ms", "dry"}  # what infer --dry --json adds
    assert {k: v for k, v in page.record.items() if k not in with_dry} == blind.to_json("riff.wav")
    assert page.record["refine"].startswith("distance to the clip: dry ")
    assert page.record["estimate"] == "blind" and page.record["dry_offset_ms"] == 0.0 and page.record["dry"] == "given"
    assert json.loads((tmp_path / "job" / "riff_pedals.json").read_text()) == page.record
    assert {p.name for p in page.downloads} == {"riff_pedals.json", "riff_board.py", "riff_spectrograms.png",
                                                "riff_on_clip_dry.wav", "riff_on_your_dry.wav",
                                                "riff_on_builtin_dry.wav"}  # named after the clip
    assert set(page.renders) == {"clip_dry", "your_dry", "builtin_dry"}
    for path in page.renders.values():
        y, sr = sf.read(path)
        assert sr == SR and len(y) == 3 * SR and np.abs(y).max() <= 0.99 + 1e-6
    lined, _ = line_up_dry(read_clip(clips["dry"], SR), wet, SR)  # the dry the chain's knobs were measured on
    expected, _ = render_chain(lined, blind.chain, SR)
    np.testing.assert_allclose(sf.read(page.renders["clip_dry"], dtype="float32")[0], expected, atol=1e-6)
    assert page.plot.stat().st_size > 10_000
    assert all(p.parent == tmp_path / "job" for p in page.downloads)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_the_status_speaks_of_refinement_only_when_it_ran_and_in_plain_words(
        tmp_path: Path, estimator: Estimator, clips: dict[str, Path]) -> None:
    from ddspfx.app.analysis import _refine_here, status_line

    limits: list[float] = []

    def refiner(*args):  # the real refinement, noting the time limit the page asked for
        limits.append(args[4])
        return _refine_here(*args)

    measured = analyse_upload(estimator, tmp_path / "a", str(clips["wet"]), dry_path=str(clips["dry"]),
                              refiner=refiner)
    assert measured.refined is None and limits == [0.0]  # the dry only measured the estimate: nothing to report
    line = status_line(measured, "riff.wav")
    assert line.startswith("Analysed **riff.wav** in ") and "efine" not in line and "distance" not in line
    refined = analyse_upload(estimator, tmp_path / "b", str(clips["wet"]), dry_path=str(clips["dry"]), refine=True,
                             refine_seconds=2.0, refiner=refiner)
    assert limits == [0.0, 2.0]  # the visitor's time limit is what refinement gets
    result = refined.refined
    assert result is not None and result.refined and refined.refine_limit_s == 2.0
    line = status_line(refined, "riff.wav")
    assert f"Refined for {refined.refine_seconds:.0f} s (limit 2 s)" in line
    assert "0 is the same sound, lower is closer" in line  # the distance explained
    assert (f"the dry alone {result.distance_dry:.2f}, the model's estimate {result.distance_before:.2f}, "
            f"refined **{result.distance_after:.2f}**") in line
    assert result.distance_after <= result.distance_before  # refinement never moves farther than the estimate
    with pytest.raises(DdspfxError, match="needs the clip's own dry recording: add it under Advanced"):
        analyse_upload(estimator, tmp_path / "c", str(clips["wet"]), refine=True)


def test_the_examples_are_the_synthetic_guitar_through_their_labelled_chains(tmp_path: Path) -> None:
    from ddspfx.app.examples import EXAMPLES, write_examples
    from ddspfx.sources import make_source

    paths = write_examples(tmp_path / "examples", SR)
    assert [p.name for p in paths] == [f"{ex.stem}.wav" for ex in EXAMPLES] and len(paths) >= 3
    for ex, path in zip(EXAMPLES, paths):
        assert ex.label == " → ".join(ex.pedals().effects)
        dry = make_source("synth", sample_rate=SR).sample(np.random.default_rng(ex.seed), ex.seconds)
        wet, _ = render_chain(dry, ex.pedals(), SR)
        np.testing.assert_array_equal(sf.read(path, dtype="float32")[0], wet)  # float32 wav: bit-exact
        assert read_clip(path, SR).shape == (int(ex.seconds * SR),)  # a clip the page analyses
    stamps = [p.stat().st_mtime_ns for p in paths]
    assert write_examples(tmp_path / "examples", SR) == paths  # rendered once, on first use
    assert [p.stat().st_mtime_ns for p in paths] == stamps


def test_a_clip_with_its_own_dry_gets_the_dry_aware_answer_as_infer_gives_it(
        tmp_path: Path, estimator: Estimator, clips: dict[str, Path], dry_checkpoint: Path, capsys) -> None:
    """The page and ``infer --dry --json`` answer the same upload alike: a dry handed over 12 dB lower and 5 ms
    late is lined up (the offset reported), and the dry-aware model gives the estimate."""
    from ddspfx.infer import main

    dry = read_clip(clips["dry"], SR)
    late = int(0.005 * SR)
    given = tmp_path / "given_dry.wav"
    sf.write(given, 0.25 * np.concatenate([np.zeros(late, np.float32), dry])[:dry.size], SR)
    paired = Estimator(dry_checkpoint)
    page = analyse_upload(estimator, tmp_path / "job", str(clips["wet"]), dry_path=str(given),
                          dry_estimator=paired)
    assert page.record["estimate"] == "dry-aware"
    assert page.record["dry_offset_ms"] == round(-1000.0 * late / SR, 2)
    assert main([str(clips["wet"]), "--dry", str(given), "--json", "--dry-checkpoint", str(dry_checkpoint)]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert {k: cli[k] for k in ("chain", "estimate", "dry_offset_ms", "refine")} == {
        k: page.record[k] for k in ("chain", "estimate", "dry_offset_ms", "refine")}


def test_refine_runs_in_a_process_that_reports_progress_and_cancel_kills(
        estimator: Estimator, clips: dict[str, Path]) -> None:
    import multiprocessing

    from ddspfx.app.jobs import Cancelled, refine_in_process

    wet, dry = read_clip(clips["wet"], SR), read_clip(clips["dry"], SR)
    analysis = estimator.analyse_many([wet])[0]
    cancel = threading.Event()
    seen: list[str] = []

    def progress(fraction: float, desc: str) -> None:
        seen.append(desc)
        fitted = re.search(r"(\d+) candidate chain\(s\) fitted", desc)
        if fitted and int(fitted.group(1)) >= 1:
            cancel.set()  # the visitor presses Cancel after the first candidate

    with pytest.raises(Cancelled):
        refine_in_process(wet[: SR], dry[: SR], analysis, SR, steps=2, progress=progress, cancel=cancel)
    assert any(re.search(r"[1-9]\d* candidate chain\(s\) fitted", d) for d in seen)
    assert not multiprocessing.active_children()


# --- the command line --------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, message", [
    (["--port", "70000"], "--port must be 0..65535"),
    (["--host", "my machine"], "--host must be an IP address"),
    (["--listening-test", "/no/such/dir"], "is not a folder"),
    (["--listening-report", "/no/such.sqlite"], "does not exist"),
    (["--checkpoint", "/no/model.safetensors"], "does not exist"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["--include-dry"], "--include-dry is a listening-test option"),
])
def test_bad_flags_give_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    from ddspfx.app.__main__ import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ddspfx: error: ") and message in err and err.count("\n") == 1


# --- the HTTP API (Gradio's queue) -----------------------------------------------------------------------


def _value(output):
    """An output's value (an output that also shows or hides its component comes as an update dict)."""
    return output["value"] if isinstance(output, dict) and output.get("__type__") == "update" else output


@pytest.fixture(scope="module")
def server(estimator: Estimator):
    from ddspfx.app.page import build_app, launch
    from ddspfx.app.workspace import Workspace

    workspace = Workspace.create()
    demo = build_app(estimator, workspace, max_mb=1.0)
    _, url = launch(demo, workspace, "127.0.0.1", 0, max_mb=1.0, block=False, quiet=True)
    yield url, workspace
    demo.close()
    workspace.close()
    assert not workspace.root.exists() and os.environ.get("GRADIO_TEMP_DIR") != str(workspace.gradio)


def test_http_api_analyses_queues_and_reports_bad_input(server, clips: dict[str, Path], tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    url, workspace = server
    assert url.startswith("http://127.0.0.1:")
    client = Client(url, verbose=False, download_files=str(tmp_path / "client"))
    # two requests at once: the second waits in the queue, both are answered
    jobs = [client.submit(handle_file(str(clips["wet"])), None, None, False, 15, api_name="/analyse")
            for _ in range(2)]
    results = [job.result(timeout=120) for job in jobs]
    status, refined, html_chain, plot, clip, render_a, render_b, render_c, clean, record, snippet, files = [
        _value(x) for x in results[0]]
    assert _value(results[1][9]) == record
    assert clean is None  # no dry-recovery network ships yet: no "clean guitar" player
    assert not refined  # no refinement ran: no refinement line
    assert status.startswith("Analysed **riff.wav**")
    assert json.loads(record)["file"] == "riff.wav"
    effects = [p["effect"] for p in json.loads(record)["chain"]]
    assert [f'data-effect="{e}"' in html_chain for e in effects] == [True] * len(effects)
    assert render_a is None and render_b is None and render_c is not None  # no dry given: only (c)
    assert sf.info(render_c).duration == pytest.approx(3.0, abs=0.01)
    assert "pedalboard.Pedalboard([" in snippet
    assert {Path(f).name for f in files} >= {"riff_pedals.json", "riff_board.py", "riff_on_builtin_dry.wav"}
    # uploads and outputs live in the app's temporary folder
    uploads = list(workspace.gradio.rglob("riff.wav"))
    assert uploads and list(workspace.jobs.rglob("riff_pedals.json"))
    # bad input: the one-line message in the status, nothing else
    silent = tmp_path / "quiet.wav"
    sf.write(silent, np.zeros(SR, np.float32), SR)
    out = client.predict(handle_file(str(silent)), None, None, False, 15, api_name="/analyse")
    assert out[0].startswith("ddspfx: error: quiet.wav is silent") and not _value(out[1]) and out[2] is None
    big = tmp_path / "long.wav"
    sf.write(big, np.random.default_rng(0).normal(0, 0.1, 8 * SR).astype(np.float32), SR, subtype="FLOAT")  # 1.4 MB
    out = client.predict(handle_file(str(big)), None, None, False, 15, api_name="/analyse")
    assert out[0].startswith("ddspfx: error: long.wav is 1.4 MB; the page takes files up to 1 MB")


def test_cancel_over_http_stops_a_running_refinement(server, clips: dict[str, Path], tmp_path: Path) -> None:
    import multiprocessing
    import time

    from gradio_client import Client, handle_file

    url, _ = server
    client = Client(url, verbose=False, download_files=str(tmp_path / "client"))
    job = client.submit(handle_file(str(clips["wet"])), handle_file(str(clips["dry"])), None, True, 60,
                        api_name="/analyse")
    deadline = time.monotonic() + 60
    while not multiprocessing.active_children():  # the server (this process) started the refinement
        assert time.monotonic() < deadline and not job.done(), "refinement never started"
        time.sleep(0.05)
    assert client.predict(api_name="/cancel") == "Cancelled."
    deadline = time.monotonic() + 20
    while multiprocessing.active_children():
        assert time.monotonic() < deadline, "the refinement process outlived Cancel"
        time.sleep(0.05)


# --- the listening test --------------------------------------------------------------------------------------


def test_store_keeps_each_listeners_order_across_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "ratings.sqlite"
    store = RatingStore(db)
    trials = [f"{i:06d}" for i in range(6)]
    plan = store.plan("ann", trials, np.random.default_rng(1))
    assert sorted(t for t, _ in plan) == trials
    assert all(sorted(c) == sorted(CONDITIONS) for _, c in plan)
    store.save("ann", 0, [100, 40, 55, 10])
    store.save("ann", 1, [20, 100, 60, 5])
    store.close()
    again = RatingStore(db)  # a restarted server
    assert again.plan("ann", trials) == plan
    assert again.next_position("ann") == 2
    rows = again.ratings()
    assert len(rows) == 8
    first = {r["letter"]: r for r in rows if r["position"] == 0}
    assert first["A"]["condition"] == plan[0][1][0] and first["A"]["score"] == 100
    with pytest.raises(DdspfxError, match="0..100"):
        again.save("ann", 2, [100, 40, 101, 10])
    assert len(again.ratings()) == 8  # the bad trial left nothing behind
    with pytest.raises(DdspfxError, match="listener id"):
        again.plan("<script>", trials)
    csv_path = again.export_csv(tmp_path / "ratings.csv")
    assert csv_path.read_text().splitlines()[0] == "listener,trial,position,condition,letter,score,rated_at"


WRITER = textwrap.dedent("""
    import sys, time
    from ddspfx.app.listening import RatingStore
    store = RatingStore(sys.argv[1])
    trials = [f"{i:06d}" for i in range(10_000)]
    store.plan("kim", trials)
    for position in range(10_000):
        store.save("kim", position, [100, 50, 30, 10])
        print(position, flush=True)
""")


def test_a_killed_writer_leaves_every_committed_trial(tmp_path: Path) -> None:
    db = tmp_path / "ratings.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    committed = [int(proc.stdout.readline()) for _ in range(20)]
    os.kill(proc.pid, signal.SIGKILL)  # mid-run, likely mid-transaction
    proc.wait(timeout=30)
    rows = read_ratings(db)
    positions = {r["position"] for r in rows}
    assert set(committed) <= positions
    per_trial = {p: sum(r["position"] == p for r in rows) for p in positions}
    assert set(per_trial.values()) == {4}  # never part of a trial
    import sqlite3

    assert sqlite3.connect(str(db)).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_listening_test_end_to_end_from_a_data_folder(tmp_path: Path, estimator: Estimator) -> None:
    from ddspfx.data.materialise import write_dataset
    from ddspfx.data.recipe import Recipe
    from ddspfx.sampler import SamplerConfig

    write_dataset(tmp_path / "data", 2, seconds=1.0, recipe=Recipe(sampler=SamplerConfig(min_effects=1, max_effects=2)),
                 progress=False)
    db = tmp_path / "data" / "listening" / "ratings.sqlite"
    test = ListeningTest.open(tmp_path / "data", db)
    assert [t.id for t in test.trials] == ["000000", "000001"] and test.trials[0].chain
    test.prepare(estimator, refine_steps=2)
    ref, _ = sf.read(test.stimulus("000000", "reference"))
    wet, _ = sf.read(tmp_path / "data" / "wet" / "000000.wav")
    np.testing.assert_allclose(ref, wet, atol=1e-6)  # the hidden reference is the wet clip itself
    anchor, _ = sf.read(test.stimulus("000000", "anchor"))
    np.testing.assert_allclose(anchor, lowpass_anchor(wet, SR) * (np.std(wet) / np.std(lowpass_anchor(wet, SR))),
                               atol=1e-4)
    manifest = json.loads((test.stimuli_dir / "000000" / "stimuli.json").read_text())
    assert manifest["true_chain"] == test.trials[0].chain and manifest["settings"]["refine_steps"] == 2
    from ddspfx.config import DEFAULT_BUDGET_S

    path = test.stimuli_dir / "000000" / "stimuli.json"
    path.write_text(json.dumps({**manifest, "settings": {**manifest["settings"], "refine_budget_s": 999.0}}))
    test.prepare(estimator, refine_steps=2)  # stimuli made under another refinement budget are made again
    assert json.loads(path.read_text())["settings"]["refine_budget_s"] == DEFAULT_BUDGET_S
    for listener, ref_score in (("ann", 100), ("bob", 50)):
        plan = test.store.plan(listener, [t.id for t in test.trials])
        for position, (_, conditions) in enumerate(plan):
            test.store.save(listener, position, [ref_score if c == "reference" else 40 for c in conditions])
    report = write_report(db, tmp_path / "report")
    assert [p.name for p in report.files] == ["report.md", "report.png", "ratings.csv"]
    assert "excluded: bob" in (tmp_path / "report" / "report.md").read_text()
    assert len((tmp_path / "report" / "ratings.csv").read_text().splitlines()) == 1 + 2 * 2 * 4


def test_lowpass_anchor_removes_the_highs() -> None:
    t = np.arange(SR) / SR
    x = (np.sin(2 * np.pi * 1000 * t) + np.sin(2 * np.pi * 8000 * t)).astype(np.float32)
    y = lowpass_anchor(x, SR)
    spectrum = np.abs(np.fft.rfft(y)) / (SR / 2)
    assert spectrum[1000] == pytest.approx(1.0, abs=0.01) and spectrum[8000] < 1e-3
