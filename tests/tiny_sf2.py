"""A SoundFont small enough to write in a test: one looped sine sample, one instrument, some presets.

Why: the real banks are apt packages; tests must know the answer exactly. The sample is a sine with a
period of exactly 100 samples declared at 44 kHz, so it plays 440 Hz at its root key (69); a note an
octave up must play 880 Hz, a 50-cent bend 452.9 Hz. Layout: SoundFont 2.04 (RIFF ``sfbk``: INFO, sdta,
pdta with its nine sub-chunks).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

SAMPLE_RATE = 44_000  # the sample's own rate: 100-sample period -> 440 Hz
ROOT_KEY = 69
RELEASE_TIMECENTS = -1200  # 0.5 s release


def _chunk(tag: bytes, data: bytes) -> bytes:
    return tag + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def _list(kind: bytes, chunks: Sequence[bytes]) -> bytes:
    return _chunk(b"LIST", kind + b"".join(chunks))


def _name(text: str) -> bytes:
    return text.encode("ascii")[:19].ljust(20, b"\0")


def write_sf2(path: str | Path, presets: Sequence[tuple[int, int]] = ((0, 24),), seconds: float = 1.0) -> Path:
    """Write a looped 440 Hz sine SoundFont with the given (bank, program) presets; returns ``path``."""
    n = int(seconds * SAMPLE_RATE)
    sine = np.round(0.5 * 32767 * np.sin(2 * np.pi * np.arange(n) / 100.0)).astype("<i2")
    smpl = sine.tobytes() + bytes(2 * 46)  # 46 zero samples after each sample (the spec's guard)
    info = _list(b"INFO", [_chunk(b"ifil", struct.pack("<HH", 2, 4)), _chunk(b"isng", b"EMU8000\0"),
                           _chunk(b"INAM", b"tiny\0\0")])
    sdta = _list(b"sdta", [_chunk(b"smpl", smpl)])
    phdr = b"".join(struct.pack("<20sHHHIII", _name(f"p{b}-{p}"), p, b, i, 0, 0, 0) for i, (b, p) in enumerate(presets))
    phdr += struct.pack("<20sHHHIII", _name("EOP"), 0, 0, len(presets), 0, 0, 0)
    pbag = b"".join(struct.pack("<HH", i, 0) for i in range(len(presets) + 1))
    pmod = bytes(10)
    pgen = b"".join(struct.pack("<Hh", 41, 0) for _ in presets) + struct.pack("<Hh", 0, 0)  # 41: instrument 0
    inst = struct.pack("<20sH", _name("sine"), 0) + struct.pack("<20sH", _name("EOI"), 1)
    igens = [(54, 1), (38, RELEASE_TIMECENTS), (53, 0)]  # loop continuously, release, sampleID (last)
    ibag = struct.pack("<HH", 0, 0) + struct.pack("<HH", len(igens), 0)
    imod = bytes(10)
    igen = b"".join(struct.pack("<Hh", g, v) for g, v in igens) + struct.pack("<Hh", 0, 0)
    loop_start, loop_end = 1000, 1000 + 100 * ((n - 2000) // 100)
    shdr = struct.pack("<20sIIIIIBbHH", _name("sine440"), 0, n, loop_start, loop_end, SAMPLE_RATE, ROOT_KEY, 0, 0, 1)
    shdr += struct.pack("<20sIIIIIBbHH", _name("EOS"), 0, 0, 0, 0, 0, 0, 0, 0, 0)
    pdta = _list(b"pdta", [_chunk(b"phdr", phdr), _chunk(b"pbag", pbag), _chunk(b"pmod", pmod), _chunk(b"pgen", pgen),
                           _chunk(b"inst", inst), _chunk(b"ibag", ibag), _chunk(b"imod", imod), _chunk(b"igen", igen),
                           _chunk(b"shdr", shdr)])
    body = b"sfbk" + info + sdta + pdta
    path = Path(path)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path
