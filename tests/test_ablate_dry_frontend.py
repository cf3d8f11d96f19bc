"""The dry front-end ablation end to end on a tiny budget (variants, dry-fed decoding, one table, --resume), its
rule reading on hand-made scores, and the harness handing a dry-aware model each clip's dry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pedalboard
import pytest
import torch
import yaml

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.chain import Chain
from ddspfx.config import load_config
from ddspfx.fileio import file_sha256
from ddspfx.model import DdspfxModel
from ddspfx.scoring import LabelledClip
from ddspfx.sources.soundfont import BANKS, SF2_DIRS
from experiments import ablate_dry_frontend as study
from experiments.evaluation.ablation import DecodeSettings, decode_heads, decode_tokens, head_outputs

missing = [b.package for name, b in BANKS.items() if name in ("timgm6mb", "gmbank")
           and not any((d / b.file).is_file() for d in SF2_DIRS)]
needs_banks = pytest.mark.skipif(bool(missing), reason=f"needs the Debian packages {', '.join(missing)}")

TINY = ["--config", "debug", "--steps", "2", "--budget-min", "0", "--n-test", "2", "--beam", "1",
        "--set", "trainer.log_audio=false"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dry_frontend")
    assert study.main([*TINY, "--out", str(out)]) == 0
    return out


def differences(a: object, b: object, at: str = "") -> list[str]:
    """The dotted keys where two nested config dicts differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{at}{k}.")]
    return [] if a == b else [at.rstrip(".")]


@needs_banks
@pytest.mark.slow
def test_two_dry_aware_variants_scored_on_never_heard_guitars(tiny: Path) -> None:
    s = json.loads((tiny / "summary.json").read_text())
    results = json.loads((tiny / "results.json").read_text())
    assert list(s["variants"]) == [study.PAIRED, study.RELATION]
    # the same recipe, seeds and steps: the two trainings differ in their front end and nothing else
    runs = {n: yaml.safe_load((Path(r["model"]).parent / "config.yaml").read_text()) for n, r in s["variants"].items()}
    assert differences(runs[study.PAIRED], runs[study.RELATION]) == ["model.frontend.name", "model.frontend.paired"]
    assert runs[study.PAIRED]["model"]["frontend"]["paired"] and runs[study.RELATION]["model"]["frontend"]["name"] == "relation"
    assert runs[study.RELATION]["model"]["input_level"] and runs[study.RELATION]["data"]["source"] == "procedural"
    assert not runs[study.RELATION]["trainer"]["init_from"]  # from scratch, both
    for n, r in s["variants"].items():
        meta = json.loads(Path(r["model"]).with_suffix(".json").read_text())
        assert meta["metrics"]["global_step"] == r["steps"] == 2 and r["sha256"] == file_sha256(Path(r["model"]))
        assert results["variants"][n]["decoder"] == study.DECODER == "tokens"  # the harness hands it the dry
    # development seeds (900,000 past the evaluation base), never the test seeds; every set of the same clips' seeds
    assert {tuple(t["seeds"]) for t in results["test_sets"].values()} == {(20_900_000, 20_900_002)}
    assert all(t["n"] == 2 for t in results["test_sets"].values())
    # never-heard sources left out whole: no variant trains on a test source but the in-distribution one
    sources = {t["source"] for t in results["test_sets"].values()}
    assert sources == {"procedural:heldout", "sf2:gmbank", "sf2:timgm6mb", "procedural"}
    # the summary reads the harness's numbers: µF1 of the chains, alarms = 1 - exact chain on the clean clips
    for n in s["variants"]:
        per_set = results["variants"][n]["results"]
        for src, _ in study.SOURCES:
            row = s["variants"][n]["scores"][src]
            assert row["micro_f1"] == per_set[f"{src}, chains"]["micro_f1"]
            assert row["alarms"] == pytest.approx(1.0 - per_set[f"{src}, clean"]["exact_chain_acc"])
        mean = s["variants"][n]["scores"]["mean"]["micro_f1"]
        assert mean == pytest.approx(sum(s["variants"][n]["scores"][src]["micro_f1"] for src, _ in study.SOURCES) / 3)
    # "no pedal" answers every clean clip right: no alarm, on every source (closed form)
    assert all(s["baselines"]["no pedal"][n]["alarms"] == 0.0 for n, _ in study.SOURCES)
    assert set(s["baselines"]) == {"no pedal", "random chain"}
    assert set(results["baselines"]["GM bank, chains"]) == {"random chain", "no effect (dry)"}  # only rows it reads
    assert s["rule_reading"] in ("adopted", "rejected", "undecided")
    md = (tiny / "summary.md").read_text()
    rows = [line.split(" | ")[0].lstrip("| ") for line in md.splitlines() if line.startswith("| ")
            and not line.startswith("| system") and not line.startswith("| variant") and "`" not in line]
    assert rows == [study.PAIRED, study.RELATION, "no pedal", "random chain"]
    assert "clean tree" in md and "SHA-256" in md and s["rule_reading"] in md


@needs_banks
@pytest.mark.slow
def test_an_out_folder_with_runs_needs_resume(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = json.loads((tiny / "summary.json").read_text())["variants"][study.RELATION]["sha256"]
    assert study.main([*TINY, "--out", str(tiny), "--variants", study.RELATION]) == 2
    err = capsys.readouterr().err
    assert "already holds runs of relation; pass --resume" in err and len(err.strip().splitlines()) == 1
    assert study.main([*TINY, "--out", str(tiny), "--variants", study.RELATION, "--resume"]) == 0  # reused
    after = json.loads((tiny / "summary.json").read_text())
    assert list(after["variants"]) == [study.RELATION] and after["variants"][study.RELATION]["sha256"] == before
    assert json.loads((tiny / "results.json").read_text())["variants"][study.RELATION]["train"]["reused"] is True
    assert after["rule_reading"].startswith("not read")


def scores(f1: dict[str, float], alarms: float = 0.1) -> dict[str, dict[str, float]]:
    out = {n: {"micro_f1": f1[n], "alarms": alarms} for n, _ in study.SOURCES}
    out["mean"] = {"micro_f1": sum(f1[n] for n, _ in study.SOURCES) / 3, "alarms": alarms}
    out[study.IN_DISTRIBUTION[0]] = {"micro_f1": f1["in"]}
    return out


def test_the_rule_reading_follows_the_written_conditions() -> None:
    base = {"held-out procedural": 0.70, "GM bank": 0.60, "TimGM6mb": 0.65, "in": 0.80}
    paired = scores(base)
    better = {k: v + 0.04 for k, v in base.items()}
    assert study.rule_reading(scores(better), paired) == "adopted"
    assert study.rule_reading(scores({**better, "in": 0.77}), paired) == "undecided"  # in distribution -0.03
    assert study.rule_reading(scores({**better, "GM bank": 0.57}), paired) == "undecided"  # one source -0.03
    assert study.rule_reading(scores(better, alarms=0.14), paired) == "undecided"  # alarms +0.04
    assert study.rule_reading(scores({k: v - 0.03 for k, v in base.items()}), paired) == "rejected"
    assert study.rule_reading(scores({**base, "in": 0.74}), paired) == "rejected"  # in distribution -0.06
    assert study.rule_reading(scores(base), paired) == "undecided"


@pytest.fixture(scope="module")
def clips() -> list[LabelledClip]:
    """Two 0.5-s clips: noise through a drive, a low tone through a delay (each with its own dry)."""
    rng = np.random.default_rng(5)
    n = SAMPLE_RATE // 2
    drys = [(0.1 * rng.standard_normal(n)).astype(np.float32),
            (0.3 * np.sin(2 * np.pi * 110.0 * np.arange(n) / SAMPLE_RATE)).astype(np.float32)]
    boards = [pedalboard.Pedalboard([pedalboard.Distortion(drive_db=30.0)]),
              pedalboard.Pedalboard([pedalboard.Delay(delay_seconds=0.1, mix=0.5)])]
    return [LabelledClip(dry=d, wet=b(d[None], SAMPLE_RATE)[0].astype(np.float32), chain=Chain())
            for d, b in zip(drys, boards)]


def tiny_model(*overrides: str) -> DdspfxModel:
    torch.manual_seed(0)
    cfg = load_config("debug", list(overrides))
    return DdspfxModel(cfg.model, clip_seconds=cfg.data.duration_s).eval()


@pytest.mark.parametrize("frontend", [("--model.frontend.name", "relation"), ("--model.frontend.paired", "true")])
def test_the_harness_scores_a_dry_aware_model_with_each_clips_dry(clips: list[LabelledClip],
                                                                   frontend: tuple[str, str]) -> None:
    model = tiny_model(*frontend)
    assert model.hears_dry
    s = DecodeSettings(beam=1, device="cpu", max_effects=3, batch_size=1)  # one clip per batch: each its own dry
    wet = torch.from_numpy(np.stack([c.wet for c in clips]))
    dry = torch.from_numpy(np.stack([c.dry for c in clips]))
    with torch.no_grad():
        want = torch.sigmoid(model.heads(*model.encode(wet, dry=dry))["presence_logits"]).numpy()  # (2, N)
    got = np.stack([h["presence"] for h in head_outputs(model, clips, s)])
    np.testing.assert_allclose(got, want, atol=1e-5)
    # the dry is heard: the same wets with each other's dry give other answers (by 5e-3 untrained; 1e-5 is noise)
    swapped = [LabelledClip(dry=clips[1 - i].dry, wet=c.wet, chain=c.chain) for i, c in enumerate(clips)]
    assert np.abs(np.stack([h["presence"] for h in head_outputs(model, swapped, s)]) - got).max() > 1e-3
    chains = [p.chain for p in model.predict(wet, beam=1, dry=dry)]
    assert [str(c) for c in decode_tokens(model, clips, s)] == [str(c) for c in chains]
    assert len(decode_heads(model, clips, s)) == len(clips)


def test_the_harness_scores_a_blind_model_on_the_wet_alone(clips: list[LabelledClip]) -> None:
    model = tiny_model()
    assert not model.hears_dry
    s = DecodeSettings(beam=1, device="cpu", max_effects=3)
    wet = torch.from_numpy(np.stack([c.wet for c in clips]))
    with torch.no_grad():
        want = torch.sigmoid(model.heads(*model.encode(wet))["presence_logits"]).numpy()
    np.testing.assert_allclose(np.stack([h["presence"] for h in head_outputs(model, clips, s)]), want, atol=1e-5)
    assert [str(c) for c in decode_tokens(model, clips, s)] == [str(p.chain) for p in model.predict(wet, beam=1)]
