"""``python -m ddspfx.data make``: write dry/wet wavs and labels.jsonl, in parallel, resumably.

Folder layout (``ddspfx.data.layout`` reads and names it)::

    DIR/meta.json            how the folder was made (source, seed, seconds, sample rate, data recipe); a rerun must agree
    DIR/dry/000123.wav       float32 mono wav
    DIR/wet/000123.wav       = output_gain * Chain.from_list(chain).to_pedalboard()(dry), fitted to len(dry)
    DIR/labels.jsonl         one JSON object per finished example, sorted by id once the run completes

Crash safety: each wav is written to a temporary file and renamed (``atomic_path``); a label line is
appended (and fsynced) only after both of its wavs exist. A rerun drops a truncated last line and
lines whose wavs are missing, then renders only the ids still missing.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.data.dataset import EffectsDataset
from ddspfx.data.layout import FORMAT_VERSION, LABELS, META, example_paths, read_labels, write_wav
from ddspfx.data.recipe import Recipe
from ddspfx.errors import DdspfxError
from ddspfx.fileio import atomic_write_text
from ddspfx.sampler import ChainSampler
from ddspfx.sources import make_source


def repair(root: Path) -> dict[int, dict[str, Any]]:
    """Keep the label lines that are complete and whose wavs exist; rewrite the file if anything was dropped."""
    path = root / LABELS
    if not path.exists():
        return {}
    raw = path.read_text(encoding="utf-8")
    done: dict[int, dict[str, Any]] = {}
    for rec in read_labels(root):
        if (root / rec["dry"]).is_file() and (root / rec["wet"]).is_file():
            done[int(rec["id"])] = rec
    clean = "".join(json.dumps(r) + "\n" for r in done.values())
    if clean != raw:
        atomic_write_text(path, clean)
    return done


def _check_meta(root: Path, meta: dict[str, Any]) -> None:
    path = root / META
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except json.JSONDecodeError:
            old = None
        if old is not None:
            diff = [k for k in meta if old.get(k) != meta[k]]
            if diff:
                raise DdspfxError(
                    f"{root} was made with different settings ({', '.join(f'{k}={old.get(k)!r}' for k in diff)}); "
                    "use a new --out folder or the same settings to resume"
                )
            return
    atomic_write_text(path, json.dumps(meta, indent=1) + "\n")


# --- workers (top-level so that a spawned process can import them) ------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(root: str, source: str, seed: int, seconds: float, sample_rate: int, recipe: dict[str, Any]) -> None:
    _WORKER["root"] = Path(root)
    _WORKER["dataset"] = EffectsDataset(source, n=2**62, seed=seed, duration_s=seconds, sample_rate=sample_rate,
                                        recipe=Recipe.from_dict(recipe))


def _make_one(index: int) -> dict[str, Any]:
    root, ds = _WORKER["root"], _WORKER["dataset"]
    ex = ds.example(index)
    dry_rel, wet_rel = example_paths(index)
    write_wav(root / dry_rel, ex.dry, ds.sample_rate)
    write_wav(root / wet_rel, ex.wet, ds.sample_rate)
    return {
        "id": index,
        "dry": dry_rel,
        "wet": wet_rel,
        "sample_rate": ds.sample_rate,
        "chain": ex.chain.to_list(),
        "output_gain": ex.output_gain,
        "seed": ex.seed,
        "source_index": ex.source_index,  # who played the dry (the guitar-identity adversary's labels)
        "guitar_id": ex.guitar_id,
    }


def write_dataset(out: str | Path, n: int, source: str = "synth", seed: int = 0, workers: int = 1,
                 seconds: float = 2.0, sample_rate: int = SAMPLE_RATE, recipe: Recipe | None = None,
                 progress: bool = True) -> int:
    """Materialise examples 0..n-1 into ``out`` (resuming); returns how many were rendered this run.

    The recipe is written into ``meta.json``; training on the folder checks it (``ddspfx.datamodule.check_folder``).
    A recipe with ``pair`` is refused: a folder holds one wet clip per example.
    """
    if n < 1:
        raise DdspfxError(f"--n must be at least 1, got {n}")
    if workers < 1:
        raise DdspfxError(f"--workers must be at least 1, got {workers}")
    if seconds < 0.25:
        raise DdspfxError(f"--seconds must be at least 0.25, got {seconds}")
    make_source(source, sample_rate=sample_rate)  # a bad spec fails here, in one line, before any work
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise DdspfxError(f"--out {root} is a file; give a folder")
    root.mkdir(parents=True, exist_ok=True)
    recipe = recipe or Recipe()
    if recipe.pair:
        raise DdspfxError("a materialised folder holds one guitar per example; generate paired examples on the fly")
    meta = {"format": FORMAT_VERSION, "source": source, "seed": int(seed), "seconds": float(seconds),
            "sample_rate": int(sample_rate), "sampler": recipe.to_dict()["sampler"], "recipe": recipe.to_dict()}
    meta = json.loads(json.dumps(meta))  # tuples -> lists, as a rerun reads them back
    _check_meta(root, meta)
    ChainSampler(recipe.sampler)  # validate before starting workers
    done = repair(root)
    todo = [i for i in range(n) if i not in done]
    init_args = (str(root), source, int(seed), float(seconds), int(sample_rate), recipe.to_dict())
    with open(root / LABELS, "a", encoding="utf-8") as labels, \
            tqdm(total=n, initial=n - len(todo), unit="clip", disable=not progress, desc="make") as bar:

        def record(rec: dict[str, Any]) -> None:
            labels.write(json.dumps(rec) + "\n")
            labels.flush()
            os.fsync(labels.fileno())
            done[int(rec["id"])] = rec
            bar.update(1)

        if workers == 1 or len(todo) <= 1:
            _init_worker(*init_args)
            for i in todo:
                record(_make_one(i))
        else:
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(workers, initializer=_init_worker, initargs=init_args) as pool:
                for rec in pool.imap_unordered(_make_one, todo, chunksize=max(1, min(16, len(todo) // (4 * workers)))):
                    record(rec)
    atomic_write_text(root / LABELS, "".join(json.dumps(done[i]) + "\n" for i in sorted(done)))
    return len(todo)
