"""The ablation scripts (experiments/ablate_*.py) end to end in --smoke mode, and their own pieces.

The scripts run as subprocesses (``python -m experiments.ablate_x`` from the repository root), exactly as a
user runs them; their pieces are imported from the ``experiments`` package.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_script(name: str, out: Path, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", f"experiments.{Path(name).stem}", "--smoke", "--out", str(out), *extra],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def import_experiment(name: str):
    """An experiments/ script as a module of the ``experiments`` package."""
    return importlib.import_module(f"experiments.{name}")


def first_table_rows(md: str, heading: str) -> list[list[str]]:
    """Body rows (cells) of the first markdown table after the line ``heading``."""
    lines = md.splitlines()
    start = lines.index(heading)
    table = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    return [[c.strip() for c in row.strip("|").split("|")] for row in table[2:]]  # skip header and separator


def check_outputs(out: Path, variants: list[str], test_sets: list[str], n: int = 8) -> dict:
    for f in ("table.md", "results.json", "bars.png"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    assert (out / "bars.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "table.md").read_text()
    res = json.loads((out / "results.json").read_text())
    for ts in test_sets:
        rows = first_table_rows(md, f"## Test set: {ts}")
        assert [r[0] for r in rows] == variants  # one row per variant, in order
        assert res["test_sets"][ts]["seeds"][0] == 20_000_000  # held-out seeds, disjoint from training
        for v in variants:
            rec = res["variants"][v]
            if not rec["skip"]:
                assert rec["results"][ts]["n"] == n
                assert rec["train"]["steps"] == 3  # --smoke caps training at 3 steps
        # the evaluator's reference systems, on the same clips: the true set in the sampler's own order
        # has every effect right and no length error (closed form, whatever the model learned)
        ref = res["baselines"][ts]["true set, typical order"]
        assert ref["micro_f1"] == pytest.approx(1.0) and ref["chain_length_mae"] == 0.0 and ref["n"] == n
    assert "Compute:" in md and "seeds" in md and "Command:" in md
    return res


def test_objective_smoke_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "objective"
    run_script("ablate_objective.py", out)
    res = check_outputs(out, ["CE only", "CE + MR-STFT", "STFT only"], ["synth"])
    v = res["variants"]
    assert v["STFT only"]["decoder"] == "heads" and v["CE only"]["decoder"] == "tokens"
    # three distinct trainings, each with its own loss weights
    assert len({r["train"]["model"] for r in v.values()}) == 3
    assert "--loss.ce" in v["STFT only"]["overrides"] and "0" == v["CE only"]["overrides"][1]
    assert res["meta"]["budget"]["n_test"] == 8


SNIPPET = r"""
import json, numpy as np, torch
from experiments.evaluation.ablation import heads_chain
from experiments.ablate_decoder import search_order
from ddspfx.chain import Chain, Pedal
from ddspfx.metrics import MRSTFTDistance
from ddspfx.targets import chain_to_targets
from ddspfx.render import render_chain
from ddspfx.sampler import sample_params
from ddspfx.sources import make_source

torch.set_num_threads(1)
rng = np.random.default_rng(3)
dry = make_source("synth").sample(rng, 0.5)
true = Chain([Pedal(e, sample_params(rng, e)) for e in ("reverb", "distortion", "chorus")])
wet, _ = render_chain(dry, true, 44100)
dist = MRSTFTDistance()
shuffled = [true.pedals[i] for i in (2, 0, 1)]
exhaustive = search_order(dry, wet, shuffled, dist, max_orders=120)
greedy = search_order(dry, wet, shuffled, dist, max_orders=1)
perm, gates, params = chain_to_targets(true)
soft = 0.9 * perm + 0.1 / perm.shape[0]  # a soft matrix whose Hungarian assignment is perm
gates_soft = 0.2 + 0.7 * gates.numpy()
rt = heads_chain({"presence": gates_soft, "perm": soft.numpy(), "params": params.numpy()}, max_effects=5)
from ddspfx.catalog import EFFECT_NAMES
bump = np.array([{"reverb": 0.05, "distortion": 0.08}.get(e, 0.0) for e in EFFECT_NAMES])  # chorus least confident
capped = heads_chain({"presence": gates_soft + bump, "perm": soft.numpy(), "params": params.numpy()}, max_effects=2)
print(json.dumps({"exhaustive": exhaustive.effects, "greedy": greedy.effects, "true": true.effects,
                  "roundtrip": rt.to_list(), "true_list": true.to_list(), "capped": capped.effects}))
"""


def test_order_search_and_heads_readout(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", SNIPPET], cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    # the true order renders the wet clip exactly (distance 0), and reverb/distortion do not commute
    assert r["exhaustive"] == r["true"]
    assert sorted(r["greedy"]) == sorted(r["true"])  # best insertion returns an order of the same pedals
    # heads readout inverts chain_to_targets: same effects, same order, same params (float32 round trip)
    assert [p["effect"] for p in r["roundtrip"]] == r["true"]
    for got, want in zip(r["roundtrip"], r["true_list"]):
        for k, v in want["params"].items():
            assert got["params"][k] == pytest.approx(v, rel=1e-4, abs=1e-5)
    # max_effects keeps the most confident gates, still in the switching-matrix order
    assert r["capped"] == ["reverb", "distortion"]


@pytest.mark.slow
def test_decoder_smoke(tmp_path: Path) -> None:
    run_script("ablate_decoder.py", tmp_path / "d")
    res = check_outputs(tmp_path / "d", ["tokens (AR)", "presence set -> tokens (AR) order", "set -> search", "tokens set -> search",
                         "true set -> search"],
                        ["synth"])
    assert len({r["train"]["model"] for r in res["variants"].values()}) == 1  # one model, four readouts
    assert res["variants"]["true set -> search"]["results"]["synth"]["micro_f1"] == pytest.approx(1.0)


@pytest.mark.slow
def test_switching_smoke(tmp_path: Path) -> None:
    run_script("ablate_switching.py", tmp_path / "s")
    res = check_outputs(tmp_path / "s", ["none (tokens only)", "soft perm through proxies", "teacher order through proxies",
                                         "soft perm through proxies [heads]", "teacher order through proxies [heads]"], ["synth"])
    assert len({r["train"]["model"] for r in res["variants"].values()}) == 3


@pytest.mark.slow
def test_frontend_smoke(tmp_path: Path) -> None:
    run_script("ablate_frontend.py", tmp_path / "f")
    res = check_outputs(tmp_path / "f", ["mel + CNN stem", "mel, frame projection", "DAC"], ["synth"])
    try:
        import dac  # noqa: F401
        has_dac = True
    except ImportError:
        has_dac = False
    if not has_dac:
        assert "not installed" in res["variants"]["DAC"]["skip"]
        assert "not run:" in (tmp_path / "f" / "table.md").read_text()


@pytest.mark.slow
def test_data_smoke_with_real_folder(tmp_path: Path) -> None:
    folder = tmp_path / "real"
    folder.mkdir()
    rng = np.random.default_rng(0)
    t = np.arange(int(1.5 * 44100)) / 44100
    for i, f0 in enumerate((110.0, 146.8, 196.0)):  # plucked-like decaying tones as stand-in recordings
        sf.write(folder / f"take{i}.wav", (0.3 * np.exp(-3 * t) * np.sin(2 * np.pi * f0 * t)
                                           + 1e-3 * rng.standard_normal(t.size)).astype(np.float32), 44100)
    run_script("ablate_data.py", tmp_path / "a", "--real-folder", str(folder))
    check_outputs(tmp_path / "a", ["base (synth, uniform, <=3)", "short chains (<=1)", "typical order", "real dry"],
                  ["synth, uniform order", "synth, typical order", "real dry"])


def test_order_search_readout_script(tiny_checkpoint, tmp_path: Path) -> None:
    """experiments/order_search.py on a tiny model: one row per read-out; the effect sets (and so the presence
    and chain-length columns in results.json) are the same in every row, only the order may differ."""
    proc = subprocess.run([sys.executable, "-m", "experiments.order_search", "--checkpoint", str(tiny_checkpoint),
                           "--n", "6", "--batch", "3", "--out", str(tmp_path)],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert list(results)[0] == "beam" and any("(shipped)" in k for k in results) and len(results) == 6
    assert len({(r["micro_f1"], r["chain_length_mae"]) for r in results.values()}) == 1
    assert "| beam |" in (tmp_path / "table.md").read_text()


def test_order_probe_script_and_antisymmetry(tiny_checkpoint, tmp_path: Path) -> None:
    """experiments/order_probe.py end to end on a tiny model; its probe gives complementary answers for (a, b)
    and (b, a), and pair_rows lists each pair of a chain once per direction."""
    import torch

    mod = import_experiment("order_probe")
    torch.manual_seed(0)
    probe = mod.PairProbe(16)
    memory, a, b = torch.randn(5, 9, 16), torch.tensor([0, 1, 2, 3, 4]), torch.tensor([6, 5, 4, 3, 2])
    assert torch.allclose(probe(memory, a, b), -probe(memory, b, a), atol=1e-6)
    rows = mod.pair_rows([["distortion", "delay", "reverb"], []], offset=10).tolist()
    assert len(rows) == 6 and all(r[0] == 10 for r in rows) and sum(r[3] for r in rows) == 3
    proc = subprocess.run([sys.executable, "-m", "experiments.order_probe", "--checkpoint", str(tiny_checkpoint),
                           "--n-train", "20", "--n-test", "6", "--epochs", "2", "--out", str(tmp_path)],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results["results"]) == 4 and 1 <= results["best_epoch"] <= 2


def test_detect_conditions_counts_and_script(tiny_checkpoint, tmp_path: Path) -> None:
    """experiments/detect_conditions.py: hand-counted recall cells for two clips, then the script end to end."""
    from ddspfx.chain import Chain, Pedal

    mod = import_experiment("detect_conditions")
    # gain: the -5..+5 dB dead zone splits the sampled -12..12 into four; Q 3.0 lies above the sampled 0.5..2.5
    eq = Pedal("eq", {"cutoff_frequency_hz": 5000.0, "gain_db": -6.0, "q": 3.0})
    reverb = Pedal("reverb", {"room_size": 0.5, "damping": 0.5, "wet_level": 0.5, "dry_level": 0.8})
    chain = Chain([Pedal("distortion", {"drive_db": 30.0}), eq, reverb])
    assert mod.pedal_conditions(chain, 1) == ["position: after a nonlinear pedal", "other pedals: 2",
                                              "knob freq: 1710..5000 Hz", "knob gain: -8.5..-5 dB",
                                              "knob Q: 1.46..2.5"]
    assert mod.pedal_conditions(chain, 0)[:2] == ["position: no other nonlinear pedal", "other pedals: 2"]
    table = mod.recall_by_condition([chain, Chain([])], [{"distortion", "reverb"}, {"eq"}])
    assert table["all"] == {"distortion": [1, 1], "eq": [0, 1], "reverb": [1, 1]}
    assert table["position: after a nonlinear pedal"] == {"eq": [0, 1], "reverb": [1, 1]}
    alarms = table["false alarms (clips without it)"]
    assert alarms["eq"] == [1, 1] and alarms["compressor"] == [0, 2] and "distortion" in alarms
    proc = subprocess.run([sys.executable, "-m", "experiments.detect_conditions", "--checkpoint",
                           str(tiny_checkpoint), "--n", "6", "--batch", "3", "--out", str(tmp_path)],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    recall = json.loads((tmp_path / "results.json").read_text())["recall"]
    assert sum(c[1] for c in recall["all"].values()) == sum(c[1] for k, r in recall.items() if k.startswith("other")
                                                             for c in r.values())
    assert "| all |" in (tmp_path / "table.md").read_text()


def test_blind_identifiability_pieces_and_script(tiny_checkpoint, tmp_path: Path) -> None:
    """experiments/blind_identifiability.py: AUC on hand-made scores, the spectrum feature on a sine, then the
    script end to end on a tiny model."""
    mod = import_experiment("blind_identifiability")
    labels = np.array([0, 0, 1, 1])
    assert mod.roc_auc(labels, np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert mod.roc_auc(labels, np.array([0.4, 0.3, 0.2, 0.1])) == 0.0
    assert mod.roc_auc(labels, np.array([0.1, 0.3, 0.2, 0.4])) == 0.75  # 3 of the 4 (pos, neg) pairs in order
    assert mod.roc_auc(labels, np.full(4, 0.5)) == 0.5
    sr = 44100
    t = np.arange(2 * sr) / sr
    spec = mod.long_term_spectrum(np.sin(2 * np.pi * 1000.0 * t) + 1e-3 * np.random.default_rng(0).normal(size=t.size), sr)
    edges = np.geomspace(mod.F_MIN, mod.F_MAX, mod.N_BANDS + 1)
    assert spec.shape == (mod.N_BANDS,) and abs(float(spec.mean())) < 1e-4
    assert int(spec.argmax()) == int(np.searchsorted(edges, 1000.0)) - 1  # the band that holds 1 kHz
    proc = subprocess.run([sys.executable, "-m", "experiments.blind_identifiability", "--checkpoint",
                           str(tiny_checkpoint), "--n", "16", "--effects", "eq,delay", "--epochs", "5",
                           "--out", str(tmp_path)], cwd=REPO, env=ENV, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert list(results) == ["eq", "delay"] and all(r["n_test"] == 4 for r in results.values())
    assert all(0.0 <= r[k] <= 1.0 for r in results.values() for k in ("model_auc", "spectrum_mlp_auc", "model_recall"))


def test_refine_gain_script(tiny_checkpoint, tmp_path: Path) -> None:
    """experiments/refine_gain.py end to end on a tiny model: one fit, one row per selection rule; the
    no-set-change row keeps every estimate's effect set, and a margin of 0 changes at least as many sets."""
    proc = subprocess.run([sys.executable, "-m", "experiments.refine_gain", "--checkpoint", str(tiny_checkpoint),
                           "--n", "4", "--steps", "2", "--out", str(tmp_path)],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads((tmp_path / "results.json").read_text())["results"]
    assert list(rows)[:2] == ["dry (no effect)", "blind estimate"] and len(rows) == 7
    assert rows["refined, no set change"]["set_changed"] == 0.0
    margin = {k.split("margin ")[1].split()[0]: r for k, r in rows.items() if "margin" in k}
    assert set(margin) == {"0.1", "0.05", "0.02", "0"} and rows["blind estimate"]["set_changed"] is None
    assert margin["0"]["set_changed"] >= margin["0.05"]["set_changed"] >= margin["0.1"]["set_changed"]
    assert rows["dry (no effect)"]["micro_f1"] == 0.0


def test_benchmarks_device_flag_reproduces_and_refuses_cpu_only_sections(capsys) -> None:
    bench = import_experiment("benchmarks")
    s = bench.Settings(quick=True, checkpoint=None, device="cuda")
    assert s.command("infer") == "python -m experiments.benchmarks --only infer --quick --device cuda"
    assert bench.Settings(quick=False, checkpoint=None).command("train") == "python -m experiments.benchmarks --only train"
    with pytest.raises(SystemExit) as exc:
        bench.main(["--device", "cuda", "--only", "render"])
    assert exc.value.code == 2
    assert "--only train --only infer" in capsys.readouterr().err


def test_scaling_curve_fit_and_target_against_closed_form(tmp_path: Path) -> None:
    sc = import_experiment("scaling_curve")
    clips = [1e5, 2e5, 4e5, 8e5]
    a, b = sc.fit_log2(clips, [0.5 + 0.02 * np.log2(c) for c in clips])
    assert a == pytest.approx(0.5) and b == pytest.approx(0.02)
    # 0.5 + 0.02 log2(x) = 0.9  <=>  x = 2**20
    assert sc.clips_to_target(a, b, 0.9, higher=True) == pytest.approx(2.0 ** 20)
    assert sc.clips_to_target(a, -0.01, 0.06, higher=False) == pytest.approx(2.0 ** ((0.06 - a) / -0.01))
    assert sc.clips_to_target(a, -0.01, 0.9, higher=True) == float("inf")  # moving away from the target

    def results(path: Path, f1: float, seed: int) -> str:
        r = {"micro_f1": f1, "equivalent_chain_acc": 0.5, "pairwise_order_acc_nonlinear": 0.8, "param_error": 0.15}
        path.write_text(json.dumps({"setup": {"n": 10, "seed": seed, "source": "synth"}, "results": {"ddspfx": r}}))
        return str(path)

    p1, p2 = results(tmp_path / "a.json", 0.80, 1), results(tmp_path / "b.json", 0.84, 1)
    out = tmp_path / "out"
    assert sc.main(["--point", "small", "1e5", "10", p1, "--point", "big", "2e5", "20", p2,
                    "--fit-from", "0", "--out", str(out)]) == 0
    md = (out / "table.md").read_text()
    assert "| presence µF1 | +0.0400 | 0.97 |" in md  # 0.80 -> 0.84 over one doubling
    assert (out / "scaling.png").stat().st_size > 0
    with pytest.raises(SystemExit):  # points scored on different clips cannot share a curve
        sc.main(["--point", "a", "1e5", "1", p1, "--point", "b", "2e5", "2", results(tmp_path / "c.json", 0.9, 2),
                 "--out", str(out)])
