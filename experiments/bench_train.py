"""Step time of the training objective: CE + heads, and with the proxy MR-STFT term.

    python -m experiments.bench_train [--threads 1] [--config default] [--section.key VALUE ...]

Times one optimisation step (forward, loss, backward, AdamW) on a real batch of the config's
size, median of 4 after a warm-up, wall clock and process CPU time; reports the machine's load
average because on a shared 2-core machine wall times move with it.
"""

from __future__ import annotations

import argparse
import os
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--config", default="default")
    args, rest = ap.parse_known_args()
    torch.set_num_threads(args.threads)
    from ddspfx.config import load_config
    from ddspfx.data.collate import collate
    from ddspfx.data.dataset import EffectsDataset
    from ddspfx.lightning_module import DdspfxLightning

    cfg = load_config(args.config, ["--loss.stft", "1.0", *rest])
    ds = EffectsDataset(source_spec=cfg.data.source, n=cfg.data.batch_size, seed=0, duration_s=cfg.data.duration_s)
    ds[0]  # first item pays one-off set-up (source tables, JIT)
    t0 = time.process_time()
    batch = collate([ds[i] for i in range(cfg.data.batch_size)])
    data_ms = (time.process_time() - t0) / cfg.data.batch_size * 1000
    module = DdspfxLightning(cfg.to_dict())
    opt = torch.optim.AdamW(module.parameters(), 1e-4)

    def step(global_step: int | None) -> None:
        terms = module.loss_fn(module.model(batch), batch, global_step)
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()

    print(f"config {args.config}, batch {cfg.data.batch_size} x {cfg.data.duration_s} s, threads {args.threads}, "
          f"load average {os.getloadavg()[0]:.1f}")
    for name, global_step in (("CE + heads", 0), ("CE + heads + MR-STFT", None)):  # None: full STFT weight
        step(global_step)
        wall, cpu = [], []
        for _ in range(4):
            t, c = time.time(), time.process_time()
            step(global_step)
            wall.append(time.time() - t)
            cpu.append(time.process_time() - c)
        extra = f", proxy evaluations {module.loss_fn.soft_chain.last_evaluations}" if global_step is None else ""
        print(f"{name:22s} wall {sorted(wall)[1]:.2f} s/step, cpu {sorted(cpu)[1]:.2f} s/step{extra}")
    print(f"data generation: {data_ms:.1f} ms cpu per clip")


if __name__ == "__main__":
    main()
