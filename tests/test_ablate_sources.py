"""The source-count curve: its defaults (from scratch, 600 steps, development seeds 21,020,000+), the never-heard and
in-distribution test sets, the mean over the never-heard sources (hand values), and end to end on a tiny budget:
x values, tables, plot, provenance, --warm-start, --resume."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ddspfx.fileio import file_sha256
from ddspfx.sources.procedural import TRAIN_IDS
from ddspfx.sources.soundfont import BANKS, SF2_DIRS
from experiments import ablate_sources as study
from experiments.evaluation.ablation import slug

missing = [b.package for name, b in BANKS.items() if name in ("timgm6mb", "gmbank")
           and not any((d / b.file).is_file() for d in SF2_DIRS)]
needs_banks = pytest.mark.skipif(bool(missing), reason=f"needs the Debian packages {', '.join(missing)}")

TINY = ["--config", "debug", "--steps", "2", "--budget-min", "0", "--n-test", "2", "--beam", "1",
        "--set", "trainer.log_audio=false"]
NEVER_HEARD = {"procedural:heldout": "held-out procedural", "sf2:gmbank": "GM bank", "sf2:timgm6mb": "TimGM6mb",
               "tonejs:electric": "tonejs electric", "tonejs:acoustic": "tonejs acoustic"}
NAMES = ["1 guitar", "2 guitars", "4 guitars", "8 guitars", "16 guitars", "64 guitars", "all guitars",
         "all guitars + adversary"]


def test_the_defaults_are_from_scratch_600_steps_on_development_seeds() -> None:
    args = study.parser().parse_args([])
    assert (args.warm_start, args.steps, args.budget_min, args.n_test, args.seed) == ("", 600, 0.0, 100, 1_020_000)
    assert not args.no_adversary and not args.resume and args.extra == []
    assert [v.name for v in study.ablation().variants] == NAMES
    assert [v.name for v in study.ablation(adversary=False).variants] == NAMES[:-1]
    assert dict(study.SOURCES) == {v: k for k, v in NEVER_HEARD.items()}


def test_a_source_that_cannot_load_is_left_out_only_when_optional(capsys: pytest.CaptureFixture[str]) -> None:
    asked: list[str] = []

    def nothing_loads(spec: str) -> str:
        asked.append(spec)
        return f"no {spec} here"

    kept, left_out = study.scored_sources(nothing_loads)
    assert asked == ["tonejs:electric", "tonejs:acoustic"]  # the others are never skipped: they fail loudly
    assert [s for _, s in kept] == ["procedural:heldout", "sf2:gmbank", "sf2:timgm6mb"]
    assert left_out == {"tonejs:electric": "no tonejs:electric here", "tonejs:acoustic": "no tonejs:acoustic here"}
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "tonejs:electric left out" in err[0] and "no tonejs:acoustic here" in err[1]
    kept, left_out = study.scored_sources(lambda spec: "")
    assert [s for _, s in kept] == list(NEVER_HEARD) and left_out == {}


def _per_set(f1: float, precision: float, exact_clean: float) -> dict[str, dict[str, float]]:
    return {"chains": {"micro_f1": f1, "micro_precision": precision, "exact_chain_acc": 0.0},
            "clean": {"micro_f1": 0.0, "micro_precision": 0.0, "exact_chain_acc": exact_clean}}


def test_the_mean_is_over_the_never_heard_sources_that_ran(tmp_path: Path) -> None:
    """Hand values: never-heard µF1 0.2 / 0.4 / 0.6 -> mean 0.4; the training guitars' 0.9 stays out of it."""
    hand = {"held-out procedural": _per_set(0.2, 0.5, 1.0), "GM bank": _per_set(0.4, 0.6, 0.5),
            "TimGM6mb": _per_set(0.6, 0.7, 0.0), "training guitars": _per_set(0.9, 0.9, 1.0)}
    sets = {f"{src}, {kind}": v for src, per in hand.items() for kind, v in per.items()}
    model = tmp_path / "model.safetensors"
    model.write_bytes(b"weights")
    rec: dict[str, Any] = {"skip": "", "train": {"steps": 7, "model": str(model)}, "data": {"source": "procedural:4"},
                           "results": sets}
    results = {"test_sets": {name: {} for name in sets}, "variants": {"4 guitars": rec},
               "baselines": {name: {"no effect (dry)": v, "random chain": v} for name, v in sets.items()}}
    c = study.curve(results)
    assert c["never_heard"] == ["held-out procedural", "GM bank", "TimGM6mb"]  # tonejs had no test set
    row = c["variants"]["4 guitars"]
    assert (row["guitars"], row["steps"], row["sha256"]) == (4, 7, file_sha256(model))
    mean = row["scores"]["mean"]
    assert mean["micro_f1"] == pytest.approx(0.4) and mean["precision"] == pytest.approx(0.6)
    assert mean["alarms"] == pytest.approx(0.5)  # 1 - exact on clean clips: 0, 0.5, 1
    assert row["scores"]["training guitars"] == pytest.approx({"micro_f1": 0.9, "precision": 0.9, "alarms": 0.0})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("sources")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert study.main([*TINY, "--out", str(out)]) == 0
    return out, err.getvalue()


@needs_banks
def test_every_variant_trains_from_scratch_the_same_steps_from_the_same_seed(tiny: tuple[Path, str]) -> None:
    out, _ = tiny
    configs = [yaml.safe_load((out / "runs" / slug(n) / "config.yaml").read_text()) for n in NAMES]
    assert [c["trainer"]["init_from"] for c in configs] == [""] * len(NAMES)
    assert {c["trainer"]["seed"] for c in configs} == {configs[0]["trainer"]["seed"]}
    assert [c["trainer"]["max_steps"] for c in configs] == [2] * len(NAMES)
    assert [c["data"]["source"] for c in configs] == [f"procedural:{n}" for n in (1, 2, 4, 8, 16, 64)] + \
        ["procedural", "procedural"]
    assert [c["loss"]["adversary"] for c in configs] == [0.0] * 7 + [study.ADVERSARY_WEIGHT]
    meta = json.loads((out / "curve.json").read_text())["meta"]
    assert (meta["warm_start"], meta["warm_start_sha256"]) == ("", "")
    assert isinstance(meta["clean_tree"], bool) and len(meta["git_commit"]) >= 7


@needs_banks
def test_the_test_sets_are_never_heard_sources_and_the_training_guitars(tiny: tuple[Path, str]) -> None:
    out, err = tiny
    results = json.loads((out / "results.json").read_text())
    meta = json.loads((out / "curve.json").read_text())["meta"]
    left_out = set(meta["left_out"])
    assert left_out <= study.OPTIONAL
    for spec in left_out:  # one line each, naming the source
        assert len([line for line in err.splitlines() if f"{spec} left out" in line]) == 1
    scored = [NEVER_HEARD[s] for s in NEVER_HEARD if s not in left_out]
    sets = results["test_sets"]
    assert set(sets) == {f"{n}, {k}" for n in [*scored, "training guitars"] for k in ("chains", "clean")}
    assert {t["source"] for t in sets.values()} == (set(NEVER_HEARD) - left_out) | {"procedural"}
    assert {t["effects"] for name, t in sets.items() if name.endswith("clean")} == {"0-0"}
    assert {tuple(t["seeds"]) for t in sets.values()} == {(21_020_000, 21_020_002)}
    assert meta["seeds"] == [21_020_000, 21_020_002]
    trained_on = {results["variants"][n]["data"]["source"] for n in NAMES}
    assert not trained_on & set(NEVER_HEARD)  # no variant hears a test source


@needs_banks
def test_the_curve_has_one_point_per_guitar_count(tiny: tuple[Path, str]) -> None:
    out, _ = tiny
    c = json.loads((out / "curve.json").read_text())
    rows = c["variants"]
    assert list(rows) == NAMES
    assert [r["guitars"] for r in rows.values()] == [1, 2, 4, 8, 16, 64, len(TRAIN_IDS), len(TRAIN_IDS)]
    assert [r["adversary"] for r in rows.values()] == [False] * 7 + [True]
    for r in rows.values():
        assert r["steps"] == 2 and r["sha256"] == file_sha256(Path(r["model"]))
        assert set(r["scores"]) == {*c["never_heard"], "mean", "training guitars"}
        assert all(0.0 <= s["alarms"] <= 1.0 for s in r["scores"].values())
    # "no pedal" answers every clean clip right: no alarm, on every source (closed form)
    assert all(s["alarms"] == 0.0 for s in c["baselines"]["no pedal"].values())
    assert set(c["baselines"]) == {"no pedal", "random chain"}


@needs_banks
def test_the_tables_and_the_plot(tiny: tuple[Path, str]) -> None:
    out, _ = tiny
    md = (out / "curve.md").read_text()
    never_heard = json.loads((out / "curve.json").read_text())["never_heard"]
    for title in ("presence µF1 (chains)", "precision (chains)", "clean-clip alarm rate"):
        section = md.split(f"## {title}")[1].split("##")[0]
        head = next(line for line in section.splitlines() if line.startswith("| system"))
        assert head.split(" | ")[3:] == [*never_heard, "mean", "training guitars |"]
        rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| system")]
        assert [r.split(" | ")[0].lstrip("| ") for r in rows] == [*NAMES, "no pedal", "random chain"]
        assert [r.split(" | ")[1] for r in rows[:8]] == ["1", "2", "4", "8", "16", "64", "all", "all"]
        assert all(r.count("|") == len(never_heard) + 6 for r in rows)  # system, guitars, steps, sources, mean, ind.
    assert "clean tree" in md and "SHA-256" in md and "none (from scratch)" in md
    assert (out / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_banks
def test_an_out_folder_with_runs_needs_resume(tiny: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = tiny
    before = json.loads((out / "curve.json").read_text())["variants"]["1 guitar"]["sha256"]
    assert study.main([*TINY, "--out", str(out), "--variants", "1 guitar"]) == 2
    err = capsys.readouterr().err
    assert "already holds runs of 1 guitar; pass --resume" in err and len(err.strip().splitlines()) == 1
    assert study.main([*TINY, "--out", str(out), "--variants", "1 guitar", "--resume"]) == 0  # reused, not retrained
    after = json.loads((out / "curve.json").read_text())["variants"]
    assert list(after) == ["1 guitar"] and after["1 guitar"]["sha256"] == before


@needs_banks
def test_a_warm_start_is_recorded_with_its_sha256(tiny: tuple[Path, str], tmp_path: Path) -> None:
    start = tiny[0] / "runs" / "1-guitar"
    assert study.main([*TINY, "--out", str(tmp_path), "--variants", "2 guitars", "--warm-start", str(start)]) == 0
    meta = json.loads((tmp_path / "curve.json").read_text())["meta"]
    assert meta["warm_start_sha256"] == file_sha256(start / "model.safetensors")
    config = yaml.safe_load((tmp_path / "runs" / "2-guitars" / "config.yaml").read_text())
    assert config["trainer"]["init_from"] == str((start / "model.safetensors").resolve())


def test_warm_start_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert study.main([*TINY, "--out", str(tmp_path), "--warm-start", str(tmp_path / "nothing.safetensors")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--warm-start" in err[0] and "no such model" in err[0]
    shipped = Path(study.__file__).resolve().parents[1] / "ddspfx" / "checkpoints" / "default.safetensors"
    assert study.main([*TINY, "--out", str(tmp_path), "--warm-start", str(shipped)]) == 2  # it heard TimGM6mb
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sf2:timgm6mb" in err[0] and "test source" in err[0]
    assert not (tmp_path / "runs").exists()
