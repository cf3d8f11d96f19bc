"""``python -m ddspfx.train [--config default|debug|gpu|long|PATH.yaml] [--out runs/NAME] [--resume] [--section.key VALUE ...]``

Trains the model with Lightning: progress bar, TensorBoard logs in ``OUT/``, checkpoints
in ``OUT/checkpoints/`` written atomically (temp file + rename), ``--resume`` continues from
``OUT/checkpoints/last.ckpt`` with the run's saved ``OUT/config.yaml``. At the end the
exportable model is written to ``OUT/model.safetensors`` + ``OUT/model.json``. The library behind it:
:func:`ddspfx.training.train`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Sequence

from ddspfx.config import load_config
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.run_folder import check_run_folder, config_path


def _parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m ddspfx.train", description="Train the ddspfx model.",
                  epilog="Any --section.key VALUE overrides the config, e.g. --model.d_model 256 --trainer.max_steps 100")
    p.add_argument("--config", default=None, help="default | debug | gpu | long | real | dry | PATH.yaml (default: default)")
    p.add_argument("--out", default=None, help="run folder (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args, rest = _parser().parse_known_args(argv)
    bad = [a for a in rest if a.startswith("--") and "." not in a.split("=")[0]]
    if bad:
        raise DdspfxError(f"unknown option {bad[0]}; see python -m ddspfx.train --help")
    name = args.config or "default"
    out = Path(args.out or f"runs/{Path(name).stem}")
    check_run_folder(out, args.resume)
    if args.resume and config_path(out).is_file():
        if args.config:
            raise DdspfxError("--resume reuses the run's own config.yaml; drop --config (overrides are still applied)")
        cfg = load_config(str(config_path(out)), rest)
    else:
        cfg = load_config(name, rest)
    command = "python -m ddspfx.train " + shlex.join(list(sys.argv[1:] if argv is None else argv))
    from ddspfx.training import train  # why here: torch and Lightning load after the flags and the folder are checked

    result = train(cfg, out, resume=args.resume, progress=not args.no_progress, command=command.strip())
    if result["rank"] != 0:  # DDP: the other processes trained too, but rank 0 wrote the model and reports
        return 0
    m = result["metrics"]
    shown = ", ".join(f"{k} {m[k]:.3f}" for k in ("val/loss", "val/chain_acc", "val/presence_f1") if k in m)
    print(f"trained {m.get('global_step', 0)} steps in {result['seconds'] / 60:.1f} min; {shown}")
    print(f"model: {result['model']} (+ .json); TensorBoard: tensorboard --logdir {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

