"""A training run's folder, the layout ``--resume``, ``--trainer.init_from`` and the exporters rely on.

``OUT/config.yaml`` (the run's whole config), ``OUT/checkpoints/`` (``last.ckpt`` to resume from and the best
``stepNNNNNNN.ckpt``), ``OUT/tb/`` (TensorBoard) and the exported ``OUT/model.safetensors`` + ``model.json``.
Torch-free: ``python -m ddspfx.train`` checks a run folder before seconds of imports.
"""

from __future__ import annotations

from pathlib import Path

from ddspfx.errors import DdspfxError


def config_path(out: str | Path) -> Path:
    """The run's saved config, which ``--resume`` reuses."""
    return Path(out) / "config.yaml"


def checkpoint_dir(out: str | Path) -> Path:
    return Path(out) / "checkpoints"


def last_checkpoint(out: str | Path) -> Path:
    """Where a run writes its latest state (at each check, at the end, on Ctrl-C or a crash)."""
    return checkpoint_dir(out) / "last.ckpt"


def latest_last(ckpt_dir: Path) -> Path:
    """The newest ``last*.ckpt`` in ``ckpt_dir``: Lightning versions it (``last-v1.ckpt``) when a run was copied to
    another folder and resumed there, and ``--resume`` must continue from the newest, not from the copy."""
    return max(ckpt_dir.glob("last*.ckpt"), key=lambda p: (p.stat().st_mtime, p.name))


def check_run_folder(out: str | Path, resume: bool) -> None:
    """A one-line error unless ``out`` suits the request: ``resume`` needs a run there, a new run needs none."""
    last = last_checkpoint(out)
    if resume and not last.is_file():
        raise DdspfxError(f"--resume: no {last}; start a new run without --resume")
    if not resume and last.is_file():
        raise DdspfxError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
