"""Audio in and out: reading, resampling, downmixing, loudness, crops -- with human error messages.

Every array here is float32. Mono audio is ``(T,)``; multichannel audio is ``(C, T)``
(channels first, as pedalboard and torch expect). Files are read with soundfile
(wav, flac, ogg/vorbis, aiff, mp3 where libsndfile supports it) and resampled with
soxr (high quality), so an 8 kHz phone recording and a 96 kHz studio file both come
out at the rate ddspfx works at (44.1 kHz).

Loudness is RMS in dBFS over the whole clip (not BS.1770 LUFS: guitar clips are
short and single-instrument, and plain RMS with a peak limit is what the renderer
and the losses need -- a predictable level, no clipping).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.errors import AudioError
from ddspfx.fileio import atomic_path

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".mp3", ".opus", ".w64", ".caf")
"""File endings the folder sources look for (soundfile decides in the end what it can read)."""

SILENCE_DBFS = -60.0
"""A clip whose peak is below this level (dBFS) is treated as silent."""

MIN_SECONDS = 0.25
"""The shortest clip ddspfx analyses: shorter clips hold too little of a note to hear an effect."""


def _db(x: float) -> float:
    return float(20.0 * np.log10(max(x, 1e-12)))


def _check_finite(x: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        raise AudioError(
            f"{name} contains {int(bad.sum())} NaN or infinite samples out of {x.size}; "
            "re-export it from your audio editor as 16/24-bit PCM or clean float audio"
        )


def open_audio(path: str | os.PathLike[str]) -> sf.SoundFile:
    """Open an audio file for reading (header only); AudioError with one line for a missing, unreadable,
    unsupported or empty file. Use it as a context manager."""
    path = Path(path)
    name = str(path)
    if not path.exists():
        raise AudioError(f"{name} does not exist; check the path (and the current directory)")
    if path.is_dir():
        raise AudioError(f"{name} is a folder, not an audio file; pass a file such as {name}/clip.wav")
    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        reason = str(exc).split("\n")[0].split(": ", 1)[-1].rstrip(".")  # drop soundfile's "Error opening 'x':"
        raise AudioError(
            f"{name} is not an audio file ddspfx can read ({reason}); "
            "convert it to wav, flac, ogg or aiff"
        ) from None
    if f.frames == 0 or f.channels == 0:
        f.close()
        raise AudioError(f"{name} contains no audio samples; record or export the clip again")
    return f


def read_span(f: sf.SoundFile, start: int, frames: int, sample_rate: int, name: str, mono: bool = True) -> np.ndarray:
    """``frames`` frames from ``start`` (in the file's own rate) of an open file, checked finite, downmixed
    (by default) and resampled to ``sample_rate``: float32 ``(T,)`` or ``(C, T)``."""
    f.seek(start)
    data = f.read(frames, dtype="float32", always_2d=True)  # (T, C)
    x = np.ascontiguousarray(data.T)  # (C, T)
    _check_finite(x, name)
    if mono:
        x = to_mono(x)
    if f.samplerate != sample_rate:
        x = resample(x, f.samplerate, sample_rate)
    return x.astype(np.float32, copy=False)


def load_audio(path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE, mono: bool = True) -> np.ndarray:
    """Read an audio file, resample it to ``sample_rate`` and (by default) downmix it.

    Returns float32 ``(T,)`` if ``mono`` else ``(C, T)``. Raises AudioError with one line
    for a missing, unreadable, unsupported, empty or non-finite file.
    """
    with open_audio(path) as f:
        return read_span(f, 0, f.frames, sample_rate, str(path), mono)


def audio_info(path: str | os.PathLike[str]) -> sf._SoundFileInfo | None:
    """soundfile's header info, or None if soundfile cannot open the file (cheap: reads the header only)."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None
    return info if info.frames > 0 else None


def check_audio(x: np.ndarray, sample_rate: int, name: str = "clip", min_seconds: float = MIN_SECONDS) -> None:
    """Raise AudioError if ``x`` (``(T,)`` or ``(C, T)``) has NaN/inf samples, is too short or is silent."""
    x = np.asarray(x)
    _check_finite(x, name)
    n = x.shape[-1] if x.ndim else 0
    seconds = n / float(sample_rate)
    if seconds < min_seconds:
        raise AudioError(
            f"{name} is {seconds:.2f} s long; ddspfx needs at least {min_seconds:.2f} s of audio"
        )
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if _db(peak) < SILENCE_DBFS:
        level = "digital silence" if peak == 0.0 else f"peak {_db(peak):.0f} dBFS"
        raise AudioError(
            f"{name} is silent ({level}, below the {SILENCE_DBFS:.0f} dBFS threshold); "
            "check that the guitar was recorded (input, gain, mute)"
        )


def save_audio(path: str | os.PathLike[str], x: np.ndarray, sample_rate: int) -> None:
    """Write ``x`` (``(T,)`` or ``(C, T)``) atomically; wav is float32, flac 24-bit, others soundfile's default."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim not in (1, 2):
        raise ValueError(f"save_audio expects (T,) or (C, T) audio, got shape {x.shape}")
    data = x if x.ndim == 1 else x.T  # soundfile wants (T, C)
    suffix = Path(path).suffix.lower()
    subtype = {".wav": "FLOAT", ".flac": "PCM_24"}.get(suffix)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), data, int(sample_rate), subtype=subtype)


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample along the last axis with soxr (high quality); ``(T,)`` or ``(C, T)`` float32.

    Output length is ``round(T * sr_out / sr_in)``.
    """
    if not (sr_in > 0 and sr_out > 0):
        raise AudioError(f"sample rates must be positive, got {sr_in} -> {sr_out} Hz; pass the rate the audio was recorded at")
    x = np.asarray(x, dtype=np.float32)
    if int(sr_in) == int(sr_out):
        return x
    if x.ndim == 1:
        return soxr.resample(x, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)
    y = soxr.resample(np.ascontiguousarray(x.T), sr_in, sr_out, quality="HQ")  # (T', C)
    return np.ascontiguousarray(y.T, dtype=np.float32)


def as_float(x: np.ndarray) -> np.ndarray:
    """float32 audio in [-1, 1] from any sample type, scaled as soundfile scales PCM: int16 / 2**15,
    int32 / 2**31, uint8 (offset binary) (x - 128) / 128; floats are only cast."""
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating):
        return x.astype(np.float32, copy=False)
    if x.dtype == np.uint8:
        return ((x.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    if np.issubdtype(x.dtype, np.signedinteger):
        return (x.astype(np.float64) / float(2 ** (8 * x.dtype.itemsize - 1))).astype(np.float32)
    raise AudioError(f"audio samples must be numbers (float or PCM integers), got dtype {x.dtype}")


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average the channels of ``(C, T)`` audio to ``(T,)``; ``(T,)`` passes through."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        return x
    if x.ndim != 2:
        raise ValueError(f"to_mono expects (T,) or (C, T) audio, got shape {x.shape}")
    return x.mean(axis=0).astype(np.float32, copy=False)


def rms_dbfs(x: np.ndarray) -> float:
    """RMS level in dBFS (a full-scale sine reads -3.01 dBFS); -240 for silence."""
    x = np.asarray(x, dtype=np.float64)
    return _db(float(np.sqrt(np.mean(x * x)))) if x.size else -240.0


def normalise_loudness(
    x: np.ndarray, target_dbfs: float = -20.0, peak_limit: float = 0.99
) -> tuple[np.ndarray, float]:
    """Scale ``x`` to ``target_dbfs`` RMS, but never let its peak exceed ``peak_limit``.

    Returns ``(y, gain)`` with ``y = gain * x`` (float32). A silent clip gets gain 1.
    """
    x = np.asarray(x, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if rms <= 0.0 or peak <= 0.0:
        return x.copy(), 1.0
    gain = 10.0 ** ((target_dbfs - _db(rms)) / 20.0)
    gain = min(gain, peak_limit / peak)
    return (x * np.float32(gain)).astype(np.float32), float(gain)


def random_crop(rng: np.random.Generator, x: np.ndarray, num_samples: int) -> np.ndarray:
    """A window of exactly ``num_samples`` along the last axis at a uniformly random start.

    A clip shorter than the window is zero-padded and placed at a random offset
    (a random onset shift), so it never starts at sample 0 by construction.
    """
    x = np.asarray(x, dtype=np.float32)
    n = x.shape[-1]
    if n >= num_samples:
        start = int(rng.integers(0, n - num_samples + 1))
        return np.ascontiguousarray(x[..., start : start + num_samples])
    out = np.zeros(x.shape[:-1] + (num_samples,), dtype=np.float32)
    offset = int(rng.integers(0, num_samples - n + 1))
    out[..., offset : offset + n] = x
    return out


def onset_frames(x: np.ndarray, sample_rate: int, hop: int = 512, rise_db: float = 9.0, floor_db: float = -45.0) -> np.ndarray:
    """Sample indices (1 ms before) where the level of ``(T,)`` audio jumps by ``rise_db`` within two hops: note attacks.

    Frames quieter than ``floor_db`` below the clip's loudest frame are ignored.
    """
    x = np.asarray(x, dtype=np.float32)
    n_frames = x.shape[-1] // hop
    if n_frames < 3:
        return np.zeros(0, dtype=np.int64)
    frames = x[: n_frames * hop].reshape(n_frames, hop)  # (F, hop)
    level = 10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)  # (F,) dB
    rise = level[2:] - np.minimum(level[:-2], level[1:-1])  # (F-2,)
    loud = level[2:] > level.max() + floor_db
    peaks = np.flatnonzero((rise > rise_db) & loud) + 2
    if peaks.size:
        keep = np.concatenate([[True], np.diff(peaks) > 2])  # one index per attack
        peaks = peaks[keep]
    onsets = []
    for f in peaks:  # refine to the first sample above 10 % of the attack's peak, minus 1 ms
        lo = max(int(f) - 2, 0) * hop
        win = np.abs(x[lo : (int(f) + 1) * hop])
        first = int(np.argmax(win > 0.1 * win.max()))
        onsets.append(max(lo + first - sample_rate // 1000, 0))
    return np.asarray(onsets, dtype=np.int64)


def onset_crop(
    rng: np.random.Generator,
    x: np.ndarray,
    num_samples: int,
    sample_rate: int,
    max_shift_s: float = 0.25,
    onset_prob: float = 0.5,
) -> np.ndarray:
    """A ``num_samples`` crop of ``(T,)`` audio that, with probability ``onset_prob``, starts on a note attack.

    The chosen attack lands at a random delay in ``[0, max_shift_s]`` (zero-padded in
    front if needed), so a model sees attacks at varied positions; otherwise a plain
    random crop. This keeps the attack (where distortion and compression are most
    audible) in many crops of long recordings of single notes.
    """
    x = np.asarray(x, dtype=np.float32)
    if rng.random() < onset_prob:
        onsets = onset_frames(x, sample_rate)
        if onsets.size:
            onset = int(onsets[rng.integers(0, onsets.size)])
            shift = int(rng.integers(0, int(max_shift_s * sample_rate) + 1))
            padded = np.concatenate([np.zeros(shift, np.float32), x[onset:]])
            if padded.size >= num_samples:
                return np.ascontiguousarray(padded[:num_samples])
            return np.concatenate([padded, np.zeros(num_samples - padded.size, np.float32)])
    return random_crop(rng, x, num_samples)


def find_audio_files(root: str | os.PathLike[str]) -> list[Path]:
    """All files under ``root`` (recursively) whose ending is in AUDIO_EXTENSIONS, sorted, hidden files skipped."""
    root = Path(root)
    found = [
        p
        for p in root.rglob("*")
        if p.suffix.lower() in AUDIO_EXTENSIONS
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return sorted(found)
