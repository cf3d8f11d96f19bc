"""The listening test is blind and ends cleanly; its report's intervals are right (``ddspfx.app.listening``,
``listening_page``, ``report``). The browser session is in ``tests/test_app_browser.py``.

Skipped as a whole without the ``app`` extra (Gradio).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("gradio", reason="the web app needs the app extra: pip install 'ddspfx[app]'")

from ddspfx.app.listening import (  # noqa: E402
    ListeningTest,
    RatingStore,
    blind_copy,
    load_trials,
    sounds_dry,
    unplayed,
)
from ddspfx.app.report import analyse_ratings, bootstrap_interval, condition_stats  # noqa: E402
from ddspfx.chain import Chain  # noqa: E402
from ddspfx.errors import DdspfxError  # noqa: E402
from ddspfx.render import render_chain  # noqa: E402

SR = 44_100

pytestmark = [  # Gradio's queue calls pandas APIs that pandas 3 deprecates: theirs, not ours
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning"),
]

DRIVE = Chain.from_list([{"effect": "distortion", "params": {"drive_db": 24.0}}])


def _pairs(root: Path, pedals: dict[str, bool], seconds: float = 1.0) -> Path:
    """wet/ and dry/ folders of same-named files: ``name: True`` has DRIVE on it, ``False`` is the dry at -6 dB."""
    from ddspfx.sources import make_source

    for kind in ("wet", "dry"):
        (root / kind).mkdir(parents=True, exist_ok=True)
    source = make_source("synth", sample_rate=SR)
    for i, (name, wet) in enumerate(pedals.items()):
        dry = source.sample(np.random.default_rng(i), seconds)
        sf.write(root / "dry" / f"{name}.wav", dry, SR, subtype="FLOAT")
        sf.write(root / "wet" / f"{name}.wav", render_chain(dry, DRIVE, SR)[0] if wet else 0.5 * dry, SR,
                 subtype="FLOAT")
    return root


# --- which clips make trials ------------------------------------------------------------------------------


def test_clips_with_no_pedal_are_left_out_unless_asked_for(tmp_path: Path) -> None:
    root = _pairs(tmp_path / "pairs", {"a": True, "b": False, "c": True})
    assert sounds_dry(root / "wet" / "b.wav", root / "dry" / "b.wav")  # the dry at another level
    assert not sounds_dry(root / "wet" / "a.wav", root / "dry" / "a.wav")
    assert [t.id for t in load_trials(root)] == ["a", "c"]
    assert [t.id for t in load_trials(root, include_dry=True)] == ["a", "b", "c"]
    assert [t.id for t in load_trials(root, max_trials=2)] == ["a", "c"]  # the cap counts trials kept
    # a data folder says it in its labels: an empty chain is a clip with no pedal
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    records = [{"id": i, "wet": f"wet/{i:06d}.wav", "dry": f"dry/{i:06d}.wav", "chain": chain}
               for i, chain in enumerate([[], DRIVE.to_list(), []])]
    (labelled / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert [t.id for t in load_trials(labelled)] == ["000001"]
    assert [t.id for t in load_trials(labelled, include_dry=True)] == ["000000", "000001", "000002"]
    only_dry = _pairs(tmp_path / "dry_only", {"x": False})
    with pytest.raises(DdspfxError, match=r"1 clip\(s\) with no pedal left out: add --include-dry"):
        load_trials(only_dry)


# --- blind serving -------------------------------------------------------------------------------------------


def test_a_stimulus_is_served_under_a_fresh_random_name_each_time(tmp_path: Path) -> None:
    stimulus = tmp_path / "stimuli" / "000001" / "reference.wav"
    stimulus.parent.mkdir(parents=True)
    sf.write(stimulus, np.random.default_rng(0).normal(0, 0.1, SR).astype(np.float32), SR, subtype="FLOAT")
    copies = [blind_copy(stimulus, tmp_path / "cache") for _ in range(20)]
    assert len({c.name for c in copies}) == 20 and len({c.parent.name for c in copies}) == 20
    for copy in copies:
        assert copy.read_bytes() == stimulus.read_bytes()
        # random hex only: no condition, trial or folder name (condition names hold letters beyond a-f)
        assert re.fullmatch(r"cache/[0-9a-f]{32}/[0-9a-f]{16}\.wav", copy.relative_to(tmp_path).as_posix())


def test_a_trial_counts_as_heard_only_when_each_of_its_files_was_played() -> None:
    served = [("reference", "1a2b.wav"), ("A", "3c4d.wav"), ("B", "5e6f.wav")]
    base = "http://127.0.0.1:7860/gradio_api/file=/tmp/ddspfx-app-x/gradio/9f9f/"
    assert unplayed(served, []) == ["reference", "A", "B"]
    assert unplayed(served, [base + "3c4d.wav", base + "1a2b.wav"]) == ["B"]
    assert unplayed(served, [base + "x5e6f.wav", base + "5e6f.wav.bak"]) == ["reference", "A", "B"]  # whole names
    assert unplayed(served, [base + n for _, n in served]) == []


# --- the report's intervals -------------------------------------------------------------------------------


def _rows(scores: dict[tuple[str, str], float], condition: str = "reference") -> list[dict]:
    return [{"listener": who, "trial": item, "position": 0, "condition": condition, "letter": "A", "score": s,
             "rated_at": ""} for (who, item), s in scores.items()]


def test_intervals_stay_inside_the_scale_and_match_the_bootstrap_distribution_exactly() -> None:
    """One listener rates the hidden reference 100, 100, 100, 0: Student's t gave -4.6 .. 154.6. Resampling the four
    items, the mean is 100 * (1 - k/4) with k ~ Binomial(4, 1/4) zeros drawn: P(k >= 3) = 0.051 and P(k = 4) = 0.004
    put the 2.5 % point at k = 3 (25); P(k = 0) = 0.32 puts the 97.5 % point at 100."""
    stats = condition_stats(_rows({("ann", f"t{i}"): s for i, s in enumerate([100, 100, 100, 0])}))[0]
    assert stats.mean == 75.0 and (stats.low, stats.high) == (25.0, 100.0)


def test_intervals_count_listeners_not_ratings() -> None:
    """Two listeners who rate every item 40 and 80: what varies is the listener, so the interval spans the listener
    means drawn again, 40 (both draws ann, p = 1/4) .. 80 (both bob, p = 1/4); twelve ratings treated as
    independent would pretend to know the mean to within a few points."""
    scores = {(who, f"t{i}"): level for who, level in (("ann", 40.0), ("bob", 80.0)) for i in range(6)}
    stats = condition_stats(_rows(scores))[0]
    assert stats.n == 12 and stats.mean == 60.0 and (stats.low, stats.high) == (40.0, 80.0)


def test_intervals_agree_with_normal_theory_on_many_items() -> None:
    """Many items from one listener: the bootstrap percentile interval of a mean is the normal one,
    mean +- 1.96 sd / sqrt(n), to within sampling error."""
    scores = np.random.default_rng(1).uniform(0, 100, size=(1, 400))
    low, high = bootstrap_interval(scores, np.ones_like(scores, dtype=bool))
    half = 1.959964 * scores.std() / np.sqrt(scores.size)
    assert (high - low) / 2 == pytest.approx(half, rel=0.06)
    assert (low + high) / 2 == pytest.approx(scores.mean(), abs=0.1 * half)


def test_a_listener_who_stopped_early_counts_only_for_the_items_rated() -> None:
    scores = np.array([[50.0, 70.0], [90.0, 0.0]])
    rated = np.array([[True, True], [True, False]])  # bob's second item was never rated (0 is not a score)
    low, high = bootstrap_interval(scores, rated)
    assert 50.0 <= low < high <= 90.0


def test_post_screening_excludes_and_names_listeners_who_miss_the_hidden_reference() -> None:
    """BS.1534-3: excluded when the hidden reference is rated below 90 in more than 15 % of the items."""
    rows = []
    for listener, ref in (("good", [100, 95, 100, 92, 100, 100, 90]), ("one_off", [100, 100, 100, 100, 100, 100, 85]),
                          ("deaf", [100, 40, 30, 100, 100, 100, 100])):
        for item, score in enumerate(ref):
            rows += _rows({(listener, f"t{item}"): score})
            rows += _rows({(listener, f"t{item}"): 50.0}, condition="estimate")
    report = analyse_ratings(rows)
    # one of 7 items below 90 is 14 %: kept; two of 7 is 29 %: excluded
    assert [(s.listener, s.excluded) for s in report.listeners] == [("deaf", True), ("good", False), ("one_off", False)]
    assert next(s for s in report.stats if s.condition == "reference").n == 14  # the kept listeners' only
    md = report.markdown()
    assert "Listeners kept: 2 of 3" in md and "excluded: deaf (hidden reference below 90 in 2 of 7 trials)" in md


# --- the page over HTTP: blind, heard before saved, finished at the end ------------------------------------


def test_listening_page_over_http_serves_blind_enforces_playing_and_finishes(tmp_path: Path) -> None:
    from gradio_client import Client

    from ddspfx.app.listening_page import build_listening_app
    from ddspfx.app.page import launch
    from ddspfx.app.workspace import Workspace
    from ddspfx.estimator import Estimator

    root = _pairs(tmp_path / "pairs", {"a": True, "b": True, "c": False})
    test = ListeningTest.open(root, tmp_path / "ratings.sqlite", anchor="random")
    assert [t.id for t in test.trials] == ["a", "b"]  # the clip with no pedal is left out
    test.prepare(Estimator(), refine_steps=0)
    workspace = Workspace.create(tmp_path)
    demo = build_listening_app(test, workspace)
    _, url = launch(demo, workspace, "127.0.0.1", 0, block=False, quiet=True)
    try:
        client = Client(url, verbose=False, download_files=False)
        shown = client.predict("ann", api_name="/start")
        assert shown[0] == "Listener **ann**, trial 1 of 2"
        files = [s["url"] for s in shown[1:6]]  # the reference, then A-D (a layout block is no API output)
        names = [f.rsplit("/", 1)[-1] for f in files]
        assert len(set(names)) == 5 and len({f.rsplit("/", 2)[-2] for f in files}) == 5
        served = [f.split(str(workspace.gradio), 1)[1] for f in files]  # what the URLs say below the cache folder
        assert all(re.fullmatch(r"/[0-9a-f]{32}/[0-9a-f]{16}\.wav", f) for f in served), served
        # nothing played: refused, nothing stored; a part played: still refused, and it says what is left
        refused = client.predict("", 100, 40, 30, 20, api_name="/save")
        assert "play reference, A, B, C, D before saving" in refused[0]
        refused = client.predict(json.dumps(files[:3]), 100, 40, 30, 20, api_name="/save")
        assert "play C, D before saving" in refused[0]
        assert RatingStore(tmp_path / "ratings.sqlite").ratings() == []
        shown = client.predict(json.dumps(files), 100, 40, 30, 20, api_name="/save")
        assert shown[0] == "Listener **ann**, trial 2 of 2. The last trial was saved."
        second = [s["url"] for s in shown[1:6]]
        assert not set(second) & set(files)  # new names for the next trial
        done = client.predict(json.dumps(second), 90, 90, 90, 90, api_name="/save")
        assert done[0].startswith("Thank you, **ann**: all 2 trials are rated") and done[1] is None
        again = client.predict(json.dumps(second), 90, 90, 90, 90, api_name="/save")  # Save after the end
        assert again[0] == done[0]  # the finished screen again, no error
        assert client.predict("ann", api_name="/start")[0] == done[0]  # and on a return visit
        error = client.predict("no spaces please", api_name="/start")
        assert error[0].startswith("ddspfx: error: listener id")
    finally:
        demo.close()
        workspace.close()
    rows = RatingStore(tmp_path / "ratings.sqlite").ratings()
    assert sorted(r["score"] for r in rows) == [20, 30, 40, 90, 90, 90, 90, 100] and {r["listener"] for r in rows} == {"ann"}
