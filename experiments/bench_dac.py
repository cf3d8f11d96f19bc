"""Cost per second of audio of DAC encoding vs the mel front end, on this CPU.

DAC's 44 kHz architecture with random weights (same compute as the pretrained model) encodes a
batch of 8 x 2 s clips; the mel front end (``build_frontend("mel")``) runs on the same batch.
Needs descript-audio-codec (``pip install 'ddspfx[dac]'``). One table on stdout.

    python -m experiments.bench_dac [--threads 1] [--repeats 3] [--batch 8] [--seconds 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Callable

import torch

from ddspfx.catalog import SAMPLE_RATE


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median (wall, process CPU) time of ``fn()`` over ``repeats`` runs after one warm-up run (s).

    CPU time is the figure to compare on a shared machine: wall time grows with other jobs' load.
    """
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seconds", type=float, default=2.0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=FutureWarning)
    import dac

    from ddspfx.frontends import build_frontend
    from ddspfx.frontends.dac import encode_codes

    torch.manual_seed(0)
    audio = 0.1 * torch.randn(args.batch, int(args.seconds * SAMPLE_RATE))  # (B, T)
    audio_s = args.batch * args.seconds

    codec = dac.DAC()  # the 44khz architecture (76.7 M parameters; the encoder is what runs)
    codec.eval().requires_grad_(False)
    enc_params = sum(p.numel() for p in codec.encoder.parameters()) + sum(
        p.numel() for p in codec.quantizer.parameters())
    mel = build_frontend("mel", dim=128).eval()

    rows = []
    t_dac = timed(lambda: encode_codes(codec, audio), args.repeats)
    rows.append(("DAC 44khz encode (codes)", enc_params, t_dac))
    with torch.no_grad():
        t_mel = timed(lambda: mel(audio), args.repeats)
    rows.append(("mel front end (log-mel + projection)", sum(p.numel() for p in mel.parameters()), t_mel))

    print(f"batch {args.batch} x {args.seconds:g} s at {SAMPLE_RATE} Hz, {args.threads} thread(s), "
          f"median of {args.repeats}")
    print(f"{'front end':38s} {'params':>8s} {'wall s':>8s} {'cpu s':>8s} {'cpu ms/audio s':>15s} "
          f"{'x realtime (cpu)':>17s}")
    for name, n_params, (wall, cpu) in rows:
        print(f"{name:38s} {n_params / 1e6:7.2f}M {wall:8.3f} {cpu:8.3f} {1e3 * cpu / audio_s:15.2f} "
              f"{audio_s / cpu:17.1f}")
    print(f"DAC / mel cost ratio (cpu time): {t_dac[1] / t_mel[1]:.0f}x")


if __name__ == "__main__":
    main()
