"""A cache of DAC codes for a materialised dataset, so training does not re-run the codec each epoch.

Layout: ``DIR/dac_cache/<weights sha256[:16]>/<id>.npy`` holds int16 codes ``(n_q, F)`` (all the
codec's codebooks; the front end uses the first ``n_codebooks``), and ``index.json`` beside them
maps each id to the sha256 of the wet file's bytes it was encoded from. Other weights give another
folder; a changed wav gives another audio hash and is re-encoded. Files are written atomically
and the index after every batch, so an interrupted encode resumes where it stopped.

Clips are batched only with clips of the same length: zero padding inside a batch would change a
shorter clip's last frames, and cached codes must equal what ``DACFrontEnd.forward`` computes.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from tqdm import tqdm

from ddspfx.audio import load_audio
from ddspfx.catalog import SAMPLE_RATE
from ddspfx.errors import DdspfxError, cli_entry
from ddspfx.fileio import atomic_path, atomic_write_text, file_sha256
from ddspfx.frontends import dac as dac_fe

CACHE_DIRNAME = "dac_cache"
INDEX_NAME = "index.json"
INDEX_VERSION = 1
HASH_CHARS = 16  # cache folder name: this many hex digits of the weights' sha256


@dataclass
class EncodeReport:
    """What :func:`encode_folder` did."""

    cache_dir: Path
    weights_sha256: str
    encoded: int  # clips run through the codec
    reused: int  # clips whose cached codes were still valid
    total: int


def cache_dir(folder: str | os.PathLike[str], weights_hash: str) -> Path:
    """``DIR/dac_cache/<hash16>``; ``weights_hash`` may be the full sha256 or its 16-digit prefix."""
    return Path(folder) / CACHE_DIRNAME / weights_hash[:HASH_CHARS]


def checked_labels(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Records of ``DIR/labels.jsonl``, each checked to have an "id" that can name a cache file and a "wet" path.

    Unlike the lenient ``ddspfx.data.layout.read_labels`` (which skips a partial line so a make can resume), a
    bad line or an empty list here is a one-line error: the ids name cache files, and an encode covers the folder.
    """
    path = Path(folder) / "labels.jsonl"
    if not path.is_file():
        raise DdspfxError(f"{path} not found; make a dataset first: python -m ddspfx.data make --out {folder} --n N")
    records = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            rec["id"], rec["wet"] = str(rec["id"]), str(rec["wet"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DdspfxError(f"{path}:{i} is not a label line with 'id' and 'wet' ({exc}); "
                              "re-run python -m ddspfx.data make on that folder to repair it") from None
        if "/" in rec["id"] or rec["id"] in ("", ".", ".."):
            raise DdspfxError(f"{path}:{i}: id {rec['id']!r} cannot name a cache file")
        records.append(rec)
    if not records:
        raise DdspfxError(f"{path} lists no examples")
    return records


def read_index(directory: Path) -> dict[str, Any]:
    """The cache index, or an empty one if missing or unreadable (everything is then re-encoded)."""
    try:
        index = json.loads((directory / INDEX_NAME).read_text())
        if index.get("version") == INDEX_VERSION and isinstance(index.get("entries"), dict):
            return index
    except (OSError, json.JSONDecodeError, AttributeError):
        pass
    return {"version": INDEX_VERSION, "entries": {}}


def _stat_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _valid_npy(path: Path, n_q: int) -> bool:
    try:
        codes = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return False
    return codes.dtype == np.int16 and codes.ndim == 2 and codes.shape[0] == n_q


def pick_device(device: str | torch.device | None) -> torch.device:
    """``device`` if given, else CUDA when available, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def encode_folder(
    folder: str | os.PathLike[str],
    weights_path: str | os.PathLike[str] | None = None,
    model_type: str = "44khz",
    batch_size: int = 8,
    device: str | torch.device | None = None,
    sample_rate: int = SAMPLE_RATE,
    progress: bool = True,
) -> EncodeReport:
    """Encode every wet wav listed in ``DIR/labels.jsonl`` into the code cache; reuse valid entries.

    Audio is read at ``sample_rate`` (the model's rate) and resampled to the codec's rate exactly as
    :meth:`DACFrontEnd.forward` does, so cached codes equal on-the-fly codes.
    """
    folder = Path(folder)
    if batch_size < 1:
        raise DdspfxError(f"batch size must be at least 1, got {batch_size}")
    records = checked_labels(folder)
    path = dac_fe.resolve_weights(weights_path, model_type)
    sha = dac_fe.memoised_sha256(path)
    codec = dac_fe.load_codec(path)
    dev = pick_device(device)
    codec.to(dev)
    sr_codec, n_q = dac_fe.codec_rate(codec), int(codec.n_codebooks)
    out = cache_dir(folder, sha)
    index = read_index(out)
    same_setup = index.get("weights_sha256") == sha and index.get("sample_rate") == sample_rate
    entries: dict[str, Any] = index["entries"] if same_setup else {}
    index = {"version": INDEX_VERSION, "weights_sha256": sha, "model_type": model_type, "weights_file": str(path),
             "sample_rate": int(sample_rate), "codec_sample_rate": sr_codec, "hop_length": int(codec.hop_length),
             "n_codebooks": n_q, "entries": entries}

    todo: list[tuple[dict[str, Any], str]] = []
    for rec in records:
        wav = folder / rec["wet"]
        if not wav.is_file():
            raise DdspfxError(f"{wav} (listed in labels.jsonl) is missing; re-run python -m ddspfx.data make")
        audio_hash = file_sha256(wav)
        entry = entries.get(rec["id"])
        if entry and entry.get("audio_sha256") == audio_hash and _valid_npy(out / entry["file"], n_q):
            continue
        todo.append((rec, audio_hash))

    # same-length clips batch together (see module docstring); lengths come from reading the audio
    pending: dict[int, list[tuple[dict[str, Any], str, np.ndarray]]] = {}
    bar = tqdm(total=len(todo), desc="DAC encode", unit="clip", disable=not progress or not todo)

    def flush(items: list[tuple[dict[str, Any], str, np.ndarray]]) -> None:
        audio = torch.from_numpy(np.stack([a for _, _, a in items])).to(dev)  # (B, T)
        x = dac_fe.to_codec_rate(audio, sample_rate, sr_codec)
        codes, _ = dac_fe.encode_codes(codec, x)  # (B, n_q, F)
        codes_np = codes.cpu().numpy().astype(np.int16)
        for (rec, audio_hash, _), c in zip(items, codes_np):
            name = f"{rec['id']}.npy"
            with atomic_path(out / name) as tmp:
                np.save(tmp, c)
            wav = folder / rec["wet"]
            entries[rec["id"]] = {"file": name, "audio_sha256": audio_hash, "audio_stat": _stat_key(wav),
                                  "frames": int(c.shape[-1])}
        atomic_write_text(out / INDEX_NAME, json.dumps(index, indent=1))
        bar.update(len(items))

    out.mkdir(parents=True, exist_ok=True)
    for rec, audio_hash in todo:
        audio = load_audio(folder / rec["wet"], sample_rate=sample_rate)
        group = pending.setdefault(audio.shape[-1], [])
        group.append((rec, audio_hash, audio))
        if len(group) == batch_size:
            flush(pending.pop(audio.shape[-1]))
    for group in pending.values():
        flush(group)
    bar.close()
    if not todo:
        atomic_write_text(out / INDEX_NAME, json.dumps(index, indent=1))
    return EncodeReport(out, sha, encoded=len(todo), reused=len(records) - len(todo), total=len(records))


def load_codes(folder: str | os.PathLike[str], example_id: str, weights_hash: str) -> np.ndarray | None:
    """Cached int16 codes (n_q, F) of ``example_id``, or None if absent or stale (its wav changed).

    The wav's size and mtime are checked first; only when they differ from the index is the file
    re-hashed, so a training loop can call this per item cheaply.
    """
    folder = Path(folder)
    directory = cache_dir(folder, weights_hash)
    index = read_index(directory)
    if not str(index.get("weights_sha256", "")).startswith(weights_hash):
        return None
    entry = index["entries"].get(str(example_id))
    if not entry:
        return None
    wav = _wet_path(folder, str(example_id))
    if wav is None or not wav.is_file():
        return None
    if _stat_key(wav) != entry.get("audio_stat") and file_sha256(wav) != entry.get("audio_sha256"):
        return None
    try:
        return np.load(directory / entry["file"])
    except (OSError, ValueError):
        return None


_WET_PATHS: dict[tuple[str, int], dict[str, str]] = {}


def _wet_path(folder: Path, example_id: str) -> Path | None:
    """The wet wav of ``example_id`` per labels.jsonl (parsed once per labels file version)."""
    labels = folder / "labels.jsonl"
    try:
        key = (str(labels.resolve()), labels.stat().st_mtime_ns)
    except OSError:
        return None
    if key not in _WET_PATHS:
        _WET_PATHS[key] = {r["id"]: r["wet"] for r in checked_labels(folder)}
    rel = _WET_PATHS[key].get(example_id)
    return folder / rel if rel is not None else None


@cli_entry
def main_encode(argv: Sequence[str] | None = None) -> int:
    """``python -m ddspfx.data encode --frontend dac DIR [--dac-weights PATH] [--model-type 44khz]``."""
    p = argparse.ArgumentParser(prog="python -m ddspfx.data encode",
                                description="Precompute front-end codes for a materialised dataset.")
    p.add_argument("folder", help="dataset folder with labels.jsonl (python -m ddspfx.data make)")
    p.add_argument("--frontend", default="dac", choices=["dac"], help="front end whose codes to cache")
    p.add_argument("--dac-weights", default=None, help="DAC weights file (default: DAC's cache or download)")
    p.add_argument("--model-type", default="44khz", choices=list(dac_fe.MODEL_TYPES), help="DAC model")
    p.add_argument("--batch-size", type=int, default=8, help="clips per codec call")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if not Path(args.folder).is_dir():
        raise DdspfxError(f"{args.folder} is not a folder; pass a dataset made by python -m ddspfx.data make")
    r = encode_folder(args.folder, args.dac_weights, args.model_type, args.batch_size, args.device,
                      progress=not args.no_progress)
    print(f"{r.cache_dir}: {r.encoded} encoded, {r.reused} reused, {r.total} clips "
          f"(weights sha256 {r.weights_sha256[:HASH_CHARS]})")
    return 0
