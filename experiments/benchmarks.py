"""The benchmark suite: one markdown table of what ddspfx costs on this CPU.

Rows: pedalboard render throughput and the data pipeline's (EffectsDataset items/s) for 2-s clips
with 1..5 effects (``bench_render.measure``); each proxy's and the SoftChain's forward and
forward+backward on a batch of 8 x 2 s (``bench_proxies.bench_rate``); one training step of the
debug and default configs (CE + heads, and with the proxy MR-STFT term); inference latency per 3-s
clip on one thread, model only (``Estimator.analyse_many``), whole process with start-up
(``python -m ddspfx.infer clip.wav``) and the marginal cost of one more clip through ``infer --json`` (issue 30's
measure), with real-time factors; and the peak memory of each part.
With ``--device cuda`` the train and infer sections time the same steps on a GPU (the train rows add
the ``gpu`` config under its own precision, bf16 autocast, and the infer rows a batch of 64 clips);
CUDA work is synchronised before each clock read.

Every section runs in its own fresh process (``--only SECTION``), so its peak resident memory
(``resource.getrusage``: ru_maxrss of the process, and of its children where it starts any) is its
own; tracemalloc is not used because torch's tensors bypass Python's allocator. Each row carries
the command that reproduces it. Times are wall clock on a shared machine: compare rows of one run.

    python -m experiments.benchmarks [--quick] [--checkpoint MODEL.safetensors] [--only render|proxies|train|infer]
                                     [--device cuda] [--out TABLE.md]

The table goes to stdout, and with ``--out`` also to that file (written whole, once every section has run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

SECTIONS: tuple[str, ...] = ("render", "proxies", "train", "infer")
HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@dataclass
class Row:
    """One line of the table; strings are already formatted with units."""

    section: str
    what: str
    setting: str
    time: str  # per item / per step / per clip
    throughput: str  # items/s, x real time, ...
    peak_mib: float  # peak resident memory of the section's process (and children) in MiB
    command: str


@dataclass
class Settings:
    quick: bool
    checkpoint: str | None
    device: str = "cpu"

    @property
    def gpu(self) -> bool:
        return self.device != "cpu"

    @property
    def where(self) -> str:
        """Where a timed row ran, for its setting column."""
        if not self.gpu:
            return "1 thread"
        import torch
        return f"{self.device} ({torch.cuda.get_device_name()})"

    @property
    def flags(self) -> list[str]:
        return ((["--quick"] if self.quick else []) + (["--checkpoint", self.checkpoint] if self.checkpoint else [])
                + (["--device", self.device] if self.gpu else []))

    def command(self, section: str) -> str:
        return shlex.join(["python", "-m", "experiments.benchmarks", "--only", section, *self.flags])


def peak_mib(children: bool = False) -> float:
    """Peak resident set size so far (Linux reports KiB) of this process or of its waited-for children."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024.0


def _sync(device: str) -> None:
    """Wait for queued GPU work, so that a clock read measures it (CUDA launches return at once)."""
    if device.startswith("cuda"):
        import torch
        torch.cuda.synchronize()


def median_time(fn: Callable[[], object], repeats: int, device: str = "cpu") -> float:
    """Median wall time (s) of ``fn()`` over ``repeats`` runs after one warm-up run."""
    fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def timed_process(cmd: Sequence[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB, CPU seconds) of one child process, its own rusage from wait4."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode:
        raise RuntimeError(f"{shlex.join(cmd)} exited with {proc.returncode}: {err.strip()[-300:]}")
    return wall, usage.ru_maxrss / 1024.0, usage.ru_utime + usage.ru_stime


# --- sections (each runs in a fresh process) --------------------------------------------------


def section_render(s: Settings) -> list[Row]:
    """Pedalboard render and EffectsDataset items/s, one worker (bench_render: paired per-clip timing)."""
    from experiments import bench_render

    n, seconds = (20, 2.0) if s.quick else (100, 2.0)
    rows = []
    for k in range(1, 6):
        whole, floor, source = bench_render.measure(k, n, seconds, workers=1)
        mem = max(peak_mib(), peak_mib(children=True))
        setting = f"{k} effect{'s' if k > 1 else ''}, 2-s mono clips, 1 process, n={n}"
        rows.append(Row("data", "pedalboard render (board build + render)", setting, f"{1e3 / floor:.2f} ms/clip",
                        f"{floor:.0f} clips/s", mem, s.command("render")))
        rows.append(Row("data", "EffectsDataset item (synth source + chain + render + targets)", setting,
                        f"{1e3 / whole:.2f} ms/item", f"{whole:.0f} items/s (source alone {source:.0f}/s)", mem,
                        s.command("render")))
    return rows


def section_proxies(s: Settings) -> list[Row]:
    """Each proxy and the SoftChain, batch 8 x 2 s at 44.1 kHz, one thread (bench_proxies.bench_rate)."""
    import torch

    from experiments import bench_proxies

    torch.set_num_threads(1)
    repeats = 1 if s.quick else 2
    rows = []
    for r in bench_proxies.bench_rate(44_100, batch=8, seconds=2.0, repeats=repeats, seed=0):
        audio_s = 8 * 2.0
        rows.append(Row("proxies", r.name, f"batch 8 x 2 s, 44.1 kHz, 1 thread, best of {repeats}, {r.evaluations} evals",
                        f"fwd {r.forward_s:.3f} s / fwd+bwd {r.backward_s:.3f} s",
                        f"fwd+bwd {audio_s / r.backward_s:.1f}x real time; pedalboard {r.pedalboard_s:.3f} s",
                        peak_mib(), s.command("proxies")))
    return rows


def train_step_time(config: str, stft: bool, repeats: int, device: str = "cpu") -> tuple[float, int, float]:
    """Median seconds of one optimisation step (forward, loss, backward, AdamW) on a real batch.

    Returns (seconds, batch size, clip seconds). With ``stft`` the step is past the MR-STFT warm-up
    (``global_step`` None, as in validation) and the term's weight is 1 (as experiments/bench_train.py does).
    On a GPU a bf16 config (trainer.precision "bf16-mixed") runs under bf16 autocast, as Lightning would.
    """
    import contextlib

    import torch

    from ddspfx.config import load_config
    from ddspfx.data.collate import collate
    from ddspfx.data.dataset import EffectsDataset
    from ddspfx.lightning_module import DdspfxLightning

    cfg = load_config(config, ["--loss.stft", "1.0"] if stft else [])
    ds = EffectsDataset(source_spec=cfg.data.source, n=cfg.data.batch_size, seed=0, duration_s=cfg.data.duration_s)
    batch = collate([ds[i] for i in range(cfg.data.batch_size)])
    batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    torch.manual_seed(0)
    module = DdspfxLightning(cfg.to_dict()).to(device)
    opt = torch.optim.AdamW(module.parameters(), 1e-4)
    global_step = None if stft else 0
    bf16 = device.startswith("cuda") and cfg.trainer.precision.startswith("bf16")

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            terms = module.loss_fn(module.model(batch), batch, global_step)
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()

    return median_time(step, repeats, device), cfg.data.batch_size, cfg.data.duration_s


def section_train(s: Settings) -> list[Row]:
    import torch

    torch.set_num_threads(1)
    rows = []
    for config in ("debug", "default") + (("gpu",) if s.gpu else ()):
        for stft in (False, True):
            repeats = 2 if s.quick else 4
            t, b, dur = train_step_time(config, stft, repeats, s.device)
            what = f"training step, {config} config, " + ("CE + heads + proxy MR-STFT" if stft else "CE + heads")
            rows.append(Row("train", what, f"batch {b} x {dur:g} s, {s.where}, median of {repeats}",
                            f"{t:.3f} s/step", f"{b / t:.1f} clips/s", peak_mib(), s.command("train")))
    return rows


def _checkpoint(s: Settings, tmp: Path) -> tuple[Path, str]:
    """The model to time: --checkpoint, else the shipped default, else an untrained default-config model."""
    from ddspfx.checkpoint import DEFAULT_CHECKPOINT, save_model

    if s.checkpoint:
        return Path(s.checkpoint), f"checkpoint {s.checkpoint}"
    if DEFAULT_CHECKPOINT.is_file():
        return DEFAULT_CHECKPOINT, "shipped default checkpoint"
    import torch

    from ddspfx.config import load_config
    from ddspfx.model import DdspfxModel

    cfg = load_config("default")
    torch.manual_seed(0)
    path, _ = save_model(DdspfxModel(cfg.model, clip_seconds=cfg.data.duration_s), tmp / "untrained.safetensors",
                         notes={"reproduce": "python -m experiments.benchmarks: untrained, for timing only"})
    return path, "untrained default-config model (no checkpoint shipped; same network, decode length may differ from a trained one)"


def section_infer(s: Settings) -> list[Row]:
    import numpy as np
    import soundfile as sf
    import torch

    torch.set_num_threads(1)
    from ddspfx.catalog import SAMPLE_RATE
    from ddspfx.estimator import Estimator
    from ddspfx.render import render_chain
    from ddspfx.sampler import ChainSampler, SamplerConfig
    from ddspfx.sources import make_source

    seconds = 3.0
    repeats = 3 if s.quick else 7
    rng = np.random.default_rng(0)
    dry = make_source("synth").sample(rng, seconds)
    wet, _ = render_chain(dry, ChainSampler(SamplerConfig(min_effects=3, max_effects=3)).sample(rng), SAMPLE_RATE)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ckpt, which = _checkpoint(s, tmp)
        est = Estimator(ckpt, device=s.device, batch_size=64)
        many = [wet * g for g in np.linspace(0.5, 1.0, 64)]  # 64 different clips for the batched GPU rows
        for beam in (1, 4):
            est.beam = beam
            t = median_time(lambda: est.analyse_many([wet]), repeats, s.device)
            rows.append(Row("infer", f"model only: Estimator.analyse_many, beam {beam}",
                            f"one 3-s clip, {s.where}, median of {repeats}; {which}", f"{1e3 * t:.0f} ms/clip",
                            f"RTF {t / seconds:.3f} ({seconds / t:.0f}x real time)", peak_mib(), s.command("infer")))
            if s.gpu:  # a GPU earns its keep on batches: 64 clips in one call
                t = median_time(lambda: est.analyse_many(many), repeats, s.device)
                rows.append(Row("infer", f"model only: Estimator.analyse_many, beam {beam}",
                                f"64 3-s clips per call, {s.where}, median of {repeats}; {which}",
                                f"{1e3 * t / 64:.1f} ms/clip", f"{64 / t:.0f} clips/s ({64 * seconds / t:.0f}x real time)",
                                peak_mib(), s.command("infer")))
        if s.gpu:  # the whole-process row is the CLI on the CPU
            return rows
        clip = tmp / "clip.wav"
        sf.write(clip, wet, SAMPLE_RATE)
        cmd = [sys.executable, "-m", "ddspfx.infer", str(clip), "--checkpoint", str(ckpt)]
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        walls, mems = [], []
        for _ in range(max(1, repeats // 2)):
            wall, mib, _cpu = timed_process(cmd, env)
            walls.append(wall)
            mems.append(mib)
        t = statistics.median(walls)
        rows.append(Row("infer", "whole process: python -m ddspfx.infer clip.wav (start-up + load + default beam)",
                        f"one 3-s clip, OMP_NUM_THREADS=1, median of {len(walls)}; {which}", f"{t:.2f} s/clip",
                        f"RTF {t / seconds:.2f}", max(mems), s.command("infer")))
        rows.append(marginal_row(s, tmp, ckpt, which, tuple(est.model.effects), env))
    return rows


def marginal_row(s: Settings, tmp: Path, ckpt: Path, which: str, effects: tuple[str, ...], env: dict[str, str]) -> Row:
    """Issue 30's measure: what one more 3-s clip costs ``python -m ddspfx.infer --json`` (reading, the batched model,
    the vote, the JSON): (time for N clips - time for 1) / (N - 1), wall and CPU, the median over alternating pairs
    of runs. The clips: the synthetic guitar through random chains of 0-5 of the model's pedals, like
    ``experiments.latency``'s."""
    import numpy as np
    import soundfile as sf

    from ddspfx.catalog import SAMPLE_RATE
    from ddspfx.render import render_chain
    from ddspfx.sampler import ChainSampler, SamplerConfig
    from ddspfx.sources import make_source

    n, pairs = (11, 1) if s.quick else (41, 3)
    rng = np.random.default_rng(1)
    src, sampler = make_source("synth"), ChainSampler(SamplerConfig(effects=effects))
    paths = []
    for i in range(n):
        dry = src.sample(rng, 3.0)
        paths.append(str(tmp / f"marginal_{i:02d}.wav"))
        sf.write(paths[-1], render_chain(dry, sampler.sample(rng, dry, SAMPLE_RATE), SAMPLE_RATE)[0], SAMPLE_RATE)
    walls, cpus, mems = [], [], []
    for _ in range(pairs):
        one = timed_process([sys.executable, "-m", "ddspfx.infer", paths[0], "--json", "--checkpoint", str(ckpt)], env)
        many = timed_process([sys.executable, "-m", "ddspfx.infer", *paths, "--json", "--checkpoint", str(ckpt)], env)
        walls.append((many[0] - one[0]) / (n - 1))
        cpus.append((many[2] - one[2]) / (n - 1))
        mems.append(many[1])
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    return Row("infer", f"marginal cost of one more clip: python -m ddspfx.infer --json, {n} clips vs 1",
               f"3-s clips of 0-5 pedals, OMP_NUM_THREADS=1, median of {pairs} pair(s); {which}",
               f"{1e3 * wall:.1f} ms/clip (CPU {1e3 * cpu:.1f} ms)", f"RTF {wall / 3.0:.3f}", max(mems),
               s.command("infer"))


RUNNERS: dict[str, Callable[[Settings], list[Row]]] = {
    "render": section_render, "proxies": section_proxies, "train": section_train, "infer": section_infer}


# --- driver ------------------------------------------------------------------------------------


def run_section_in_child(section: str, s: Settings) -> list[Row]:
    """Run one section in a fresh interpreter so its peak memory is its own."""
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "rows.json"
        cmd = [sys.executable, "-m", "experiments.benchmarks", "--only", section, "--rows-json", str(out), *s.flags]
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env=env, cwd=REPO)
        print(f"  {section}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        return [Row(**r) for r in json.loads(out.read_text())]


def format_table(rows: Sequence[Row], s: Settings, seconds: float, command: str) -> str:
    load = os.getloadavg()[0]
    lines = [
        f"ddspfx benchmarks ({'quick' if s.quick else 'full'}), {os.cpu_count()} CPU cores, torch 1 thread per section, "
        f"load average {load:.1f} at the end, {seconds:.0f} s in all. This table: `{command}`. Peak memory = "
        "the high-water ru_maxrss so far of the section's fresh process, rows run top to bottom (with its pool workers for data rows; of the infer process "
        "itself for the whole-process row).",
        "",
        "| section | what | setting | time | throughput / RTF | peak RSS (MiB) | reproduce |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r.section} | {r.what} | {r.setting} | {r.time} | {r.throughput} | {r.peak_mib:.0f} | `{r.command}` |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer clips and repeats (a few minutes)")
    ap.add_argument("--checkpoint", help="model for the inference rows (default: shipped model, else an untrained one)")
    ap.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections (repeatable)")
    ap.add_argument("--device", default="cpu", help="torch device for the train and infer sections, e.g. cuda")
    ap.add_argument("--out", type=Path, help="also write the table to this markdown file")
    ap.add_argument("--rows-json", type=Path, help=argparse.SUPPRESS)  # internal: a child writes its rows here
    args = ap.parse_args(argv)
    if args.checkpoint and not Path(args.checkpoint).is_file():
        ap.error(f"--checkpoint {args.checkpoint} not found")
    if args.out and not args.out.parent.is_dir():
        ap.error(f"--out: the folder {args.out.parent} does not exist")
    if args.device != "cpu" and set(args.only or SECTIONS) - {"train", "infer"}:
        ap.error("--device times only the train and infer sections: add --only train --only infer")
    s = Settings(args.quick, args.checkpoint, args.device)
    if args.rows_json:  # child: one section in this process
        (section,) = args.only
        rows = RUNNERS[section](s)
        args.rows_json.write_text(json.dumps([asdict(r) for r in rows]))
        return 0
    t0 = time.perf_counter()
    rows = []
    for section in args.only or SECTIONS:
        rows += run_section_in_child(section, s)
    command = shlex.join(["python", "-m", "experiments.benchmarks", *(argv if argv is not None else sys.argv[1:])])
    table = format_table(rows, s, time.perf_counter() - t0, command)
    print(table)
    if args.out:
        from ddspfx.fileio import atomic_write_text

        atomic_write_text(args.out, table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
