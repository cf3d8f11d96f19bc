"""The source-count curve end to end on a tiny budget: variants, x values, tables, plot, provenance, --resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ddspfx.fileio import file_sha256
from ddspfx.sources.procedural import TRAIN_IDS
from ddspfx.sources.soundfont import BANKS, SF2_DIRS
from experiments import ablate_sources as study

missing = [b.package for name, b in BANKS.items() if name in ("timgm6mb", "gmbank")
           and not any((d / b.file).is_file() for d in SF2_DIRS)]
pytestmark = pytest.mark.skipif(bool(missing), reason=f"needs the Debian packages {', '.join(missing)}")

TINY = ["--config", "debug", "--steps", "2", "--budget-min", "0", "--n-test", "2", "--beam", "1",
        "--set", "trainer.log_audio=false"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sources")
    assert study.main([*TINY, "--out", str(out)]) == 0
    return out


def test_the_curve_has_one_point_per_guitar_count(tiny: Path) -> None:
    c = json.loads((tiny / "curve.json").read_text())
    rows = c["variants"]
    assert list(rows) == ["1 guitar", "2 guitars", "4 guitars", "8 guitars", "16 guitars", "64 guitars",
                          "all guitars", "all guitars + adversary"]
    assert [r["guitars"] for r in rows.values()] == [1, 2, 4, 8, 16, 64, len(TRAIN_IDS), len(TRAIN_IDS)]
    assert [r["adversary"] for r in rows.values()] == [False] * 7 + [True]
    results = json.loads((tiny / "results.json").read_text())
    assert [results["variants"][n]["data"]["source"] for n in rows] == \
        [f"procedural:{n}" for n in (1, 2, 4, 8, 16, 64)] + ["procedural", "procedural"]
    assert "--loss.adversary" in results["variants"]["all guitars + adversary"]["overrides"]
    for r in rows.values():
        assert r["steps"] == 2 and r["sha256"] == file_sha256(Path(r["model"]))
        assert set(r["scores"]) == {"held-out procedural", "GM bank", "TimGM6mb", "mean"}
        for src in ("held-out procedural", "GM bank", "TimGM6mb"):
            assert 0.0 <= r["scores"][src]["alarms"] <= 1.0
    # "no pedal" answers every clean clip right: no alarm, on every source (closed form)
    assert all(c["baselines"]["no pedal"][src]["alarms"] == 0.0 for src in ("held-out procedural", "GM bank", "TimGM6mb"))
    assert set(c["baselines"]) == {"no pedal", "random chain"}
    # test sets: the three never-heard sources, chains and clean clips, none of them a training source
    assert set(results["test_sets"]) == {f"{s}, {k}" for s, _ in study.SOURCES for k in ("chains", "clean")}
    assert {t["source"] for t in results["test_sets"].values()} == {"procedural:heldout", "sf2:gmbank", "sf2:timgm6mb"}
    assert isinstance(c["meta"]["clean_tree"], bool) and len(c["meta"]["git_commit"]) >= 7


def test_the_tables_and_the_plot(tiny: Path) -> None:
    md = (tiny / "curve.md").read_text()
    for title in ("presence µF1 (chains)", "precision (chains)", "clean-clip alarm rate"):
        section = md.split(f"## {title}")[1].split("##")[0]
        rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| system")]
        assert [r.split(" | ")[0].lstrip("| ") for r in rows] == [
            "1 guitar", "2 guitars", "4 guitars", "8 guitars", "16 guitars", "64 guitars", "all guitars",
            "all guitars + adversary", "no pedal", "random chain"]
        assert [r.split(" | ")[1] for r in rows[:8]] == ["1", "2", "4", "8", "16", "64", "all", "all"]
        assert all(r.count("|") == 8 for r in rows)  # system, guitars, steps, three sources, mean
    assert "clean tree" in md and "SHA-256" in md
    assert (tiny / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_out_folder_with_runs_needs_resume(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = json.loads((tiny / "curve.json").read_text())["variants"]["1 guitar"]["sha256"]
    assert study.main([*TINY, "--out", str(tiny), "--variants", "1 guitar"]) == 2
    err = capsys.readouterr().err
    assert "already holds runs of 1 guitar; pass --resume" in err and len(err.strip().splitlines()) == 1
    assert study.main([*TINY, "--out", str(tiny), "--variants", "1 guitar", "--resume"]) == 0  # reused, not retrained
    after = json.loads((tiny / "curve.json").read_text())["variants"]
    assert list(after) == ["1 guitar"] and after["1 guitar"]["sha256"] == before


def test_warm_start_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert study.main([*TINY, "--out", str(tmp_path), "--warm-start", str(tmp_path / "nothing.safetensors")]) == 2
    assert "--warm-start" in capsys.readouterr().err
