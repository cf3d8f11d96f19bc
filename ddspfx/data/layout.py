"""The on-disk layout of a materialised dataset (``python -m ddspfx.data make``): file names, wav format and
``labels.jsonl``. The writer (``ddspfx.data.materialise``) and the reader (``EffectsDataset.from_folder``) both
use it; see ``ddspfx.data.materialise`` for the layout itself and its crash safety.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import soundfile as sf

from ddspfx.fileio import atomic_path

LABELS = "labels.jsonl"
META = "meta.json"
FORMAT_VERSION = 1


def example_paths(index: int) -> tuple[str, str]:
    """(dry, wet) paths of example ``index``, relative to the folder."""
    return f"dry/{index:06d}.wav", f"wet/{index:06d}.wav"


def write_wav(path: Path, x: np.ndarray, sample_rate: int) -> None:
    """Atomic float32 wav (exact samples, so labels reproduce the wet file to float precision)."""
    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(tmp, np.asarray(x, dtype=np.float32), int(sample_rate), subtype="FLOAT", format="WAV")


def _parse_lines(text: str) -> Iterator[dict[str, Any]]:
    for line in text.split("\n"):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "id" in rec and "dry" in rec and "wet" in rec:
            yield rec


def read_labels(root: str | Path) -> list[dict[str, Any]]:
    """Complete records of ``root/labels.jsonl`` (a truncated last line is skipped); [] if absent."""
    path = Path(root) / LABELS
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]  # drop the partial line of an interrupted append
    return list(_parse_lines(text))
