"""Sampled guitar: the phrases of the embedded guitar played by real recorded samples in a SoundFont.

Why: a model that has only heard ddspfx's synthetic string calls the tone of every real guitar an
"eq". A SoundFont (SF2) holds recordings of real instruments, several notes and velocity layers each,
with the envelopes and filters a sampler applies; General MIDI banks carry five dry guitars (programs
24-28: nylon, steel, jazz, clean, muted). Programs 29 and 30 are recorded through an overdrive and a
distortion, and bank 8's "Chorused guitar" through a chorus, so they are refused: their labels would
miss a pedal.

Player: FluidSynth (the reference SF2 synthesiser; Debian's ``libfluidsynth3``), hosted in-process
through ctypes, so a clip costs milliseconds, not a subprocess (the PyPI SF2 players either wrap the
same library and render int16 only, or pull PortAudio for real-time playback we do not need).
FluidSynth adds its own reverb and chorus by default; both are switched off here, so the dry clip
carries no effect that its label does not name.

The notes are :func:`ddspfx.sources.synth.compose_plain_phrase`'s (single lines, power chords, strums, arpeggios,
riffs, with the player's tempo, velocity, timing and tuning), one MIDI channel per string: a new pluck
on a string releases the note that string was sounding, as on a guitar. A string's tuning offset is a
pitch bend on its channel.

Spec: ``sf2:PATH`` (the dry GM guitars found in PATH), ``sf2:PATH#27,8/25`` (these presets; ``B/P``
is bank B, program P), or a bank's short name (``timgm6mb``, ``gmbank``, and, for held-out evaluation
only, ``fluidr3``, ``musescore``). :data:`ddspfx.sources.base.RESERVED` names the banks kept for judging: training refuses
them (:func:`check_training_source`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.errors import DdspfxError
from ddspfx.sources.base import RESERVED, shifted_phrase
from ddspfx.sources.synth import MIDI_HIGH, MIDI_LOW, Note, compose_plain_phrase

SF2_DIRS: tuple[Path, ...] = (Path("/usr/share/sounds/sf2"), Path("/usr/share/sounds/sf3"),
                              Path("/usr/share/soundfonts"))
"""Where Debian (and most Linux distributions) install SoundFonts."""


@dataclass(frozen=True)
class Bank:
    """A SoundFont that ddspfx knows by name."""

    file: str  # file name under one of SF2_DIRS
    package: str  # Debian package that installs it
    reserved: bool  # kept for held-out evaluation: never trained on


BANKS: dict[str, Bank] = {
    "timgm6mb": Bank("TimGM6mb.sf2", "timgm6mb-soundfont", reserved=False),
    "gmbank": Bank("sf_GMbank.sf2", "csound-soundfont", reserved=False),
    "fluidr3": Bank("FluidR3_GM.sf2", "fluid-soundfont-gm", reserved=True),
    "musescore": Bank("MuseScore_General.sf2", "musescore-general-soundfont", reserved=True),
}
"""Named banks. FluidR3 and MuseScore General (derived from FluidR3) are the held-out judges' banks."""

DRY_GUITARS: tuple[tuple[int, int], ...] = ((0, 24), (0, 25), (0, 26), (0, 27), (0, 28), (8, 25), (8, 28))
"""(bank, program) of the dry guitars a GM/GS bank may hold: nylon, steel, jazz, clean, muted,
12-string, funk. Presets missing from a file are skipped."""

NOT_DRY: dict[tuple[int, int], str] = {
    (0, 29): "overdrive guitar (recorded through an overdrive)",
    (0, 30): "distortion guitar (recorded through a distortion)",
    (0, 31): "guitar harmonics (not played as a guitar line)",
    (8, 27): "chorused guitar (recorded through a chorus)",
    (8, 30): "feedback guitar (recorded through a distortion)",
    (8, 31): "guitar feedback (recorded through a distortion)",
}
"""Guitar presets that carry an effect their label would not name."""

FLUID_BLOCK = 64  # FluidSynth renders in blocks of 64 samples and starts a note at a block boundary
FLUID_SETTLE = 1024  # samples rendered after a reset before a clip starts
STRINGS = 6  # one MIDI channel per string (channels 0-5; channel 9 is GM's drum channel)
BEND_RANGE = 2.0  # semitones: GM's default pitch-bend range


def is_reserved(path: str | os.PathLike[str]) -> bool:
    """True for a bank kept for held-out evaluation (the file, or what a symlink points at)."""
    names = {Path(path).name.lower(), Path(os.path.realpath(path)).name.lower()}
    return any(frag in name for name in names for frag in RESERVED)


def resolve_bank(name_or_path: str) -> Path:
    """A bank's short name or a path -> an existing SoundFont file; DdspfxError saying how to get it."""
    bank = BANKS.get(name_or_path.strip().lower())
    if bank is not None:
        for folder in SF2_DIRS:
            if (folder / bank.file).is_file():
                return folder / bank.file
        raise DdspfxError(f"SoundFont {name_or_path!r} ({bank.file}) is not installed; "
                          f"run `apt install {bank.package}`, or pass sf2:PATH to the file")
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise DdspfxError(f"SoundFont {str(path)!r} does not exist; pass sf2:PATH to an .sf2/.sf3 file "
                          f"or one of {', '.join(BANKS)}")
    return path


@functools.lru_cache(maxsize=1)
def _library() -> ctypes.CDLL:
    """libfluidsynth with the signatures ddspfx calls; DdspfxError naming the package if missing."""
    name = ctypes.util.find_library("fluidsynth") or "libfluidsynth.so.3"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        raise DdspfxError("the FluidSynth library is not installed; run `apt install libfluidsynth3` "
                          "(Debian/Ubuntu), `brew install fluid-synth` (macOS) or your system's equivalent") from None
    p, i, d, s = ctypes.c_void_p, ctypes.c_int, ctypes.c_double, ctypes.c_char_p
    fp = ctypes.POINTER(ctypes.c_float)
    for fn, res, args in (
        ("new_fluid_settings", p, []), ("delete_fluid_settings", None, [p]),
        ("fluid_settings_setnum", i, [p, s, d]), ("fluid_settings_setint", i, [p, s, i]),
        ("new_fluid_synth", p, [p]), ("delete_fluid_synth", None, [p]),
        ("fluid_synth_sfload", i, [p, s, i]), ("fluid_synth_program_select", i, [p, i, i, i, i]),
        ("fluid_synth_noteon", i, [p, i, i, i]), ("fluid_synth_noteoff", i, [p, i, i]),
        ("fluid_synth_pitch_bend", i, [p, i, i]), ("fluid_synth_system_reset", i, [p]),
        ("fluid_synth_write_float", i, [p, i, fp, i, i, fp, i, i]),
        ("fluid_set_log_function", p, [i, p, p]), ("fluid_synth_get_sfont_by_id", p, [p, i]),
        ("fluid_synth_add_sfont", i, [p, p]), ("fluid_synth_remove_sfont", i, [p, p]),
    ):
        f = getattr(lib, fn)
        f.restype, f.argtypes = res, args
    for level in (1, 2, 3, 4):  # FLUID_ERR..DBG: quiet; ddspfx reports what goes wrong itself
        lib.fluid_set_log_function(level, None, None)
    return lib


class FluidSynth:
    """One SoundFont loaded into FluidSynth: dry (no reverb, no chorus), mono out.

    Each :meth:`render` runs on a fresh synthesiser that shares the loaded SoundFont (0.1 ms to make):
    a reused one carries voice state from clip to clip (measured: after another clip, a note's first
    50 ms differed by up to 0.02 at a 0.13 peak), and a dataset's example must depend on its seed only.
    """

    def __init__(self, path: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE, gain: float = 0.5) -> None:
        self._lib = lib = _library()
        self.sample_rate = int(sample_rate)
        self._settings = lib.new_fluid_settings()
        lib.fluid_settings_setnum(self._settings, b"synth.sample-rate", float(self.sample_rate))
        lib.fluid_settings_setnum(self._settings, b"synth.gain", float(gain))
        lib.fluid_settings_setint(self._settings, b"synth.reverb.active", 0)
        lib.fluid_settings_setint(self._settings, b"synth.chorus.active", 0)
        lib.fluid_settings_setint(self._settings, b"synth.cpu-cores", 1)
        lib.fluid_settings_setint(self._settings, b"synth.polyphony", 64)
        self._owner = lib.new_fluid_synth(self._settings)  # holds the SoundFont; never plays
        if not self._owner:
            lib.delete_fluid_settings(self._settings)
            self._settings = None
            raise DdspfxError("FluidSynth could not start a synthesiser; check the libfluidsynth install")
        sfont_id = lib.fluid_synth_sfload(self._owner, os.fsencode(os.fspath(path)), 1)
        if sfont_id < 0:
            self.close()
            raise DdspfxError(f"FluidSynth cannot read {os.fspath(path)!r} as a SoundFont; is it an .sf2/.sf3 file?")
        self._sfont = lib.fluid_synth_get_sfont_by_id(self._owner, sfont_id)
        self._sfont_id = sfont_id

    def has_preset(self, bank: int, program: int) -> bool:
        return self._lib.fluid_synth_program_select(self._owner, 0, self._sfont_id, bank, program) == 0

    def render(self, notes: Sequence[Note], num_samples: int, bank: int, program: int) -> np.ndarray:
        """``notes`` on preset (bank, program) -> mono float32 ``(num_samples,)`` at the synth's level."""
        lib = self._lib
        synth = lib.new_fluid_synth(self._settings)
        try:
            sfont_id = lib.fluid_synth_add_sfont(synth, self._sfont)
            try:
                return self._play(synth, sfont_id, notes, num_samples, bank, program)
            finally:
                lib.fluid_synth_remove_sfont(synth, self._sfont)
        finally:
            lib.delete_fluid_synth(synth)

    def _play(self, synth: int, sfont_id: int, notes: Sequence[Note], num_samples: int, bank: int,
              program: int) -> np.ndarray:
        lib = self._lib
        for chan in range(STRINGS):
            if lib.fluid_synth_program_select(synth, chan, sfont_id, bank, program) != 0:
                raise DdspfxError(f"preset {bank}/{program} is not in this SoundFont")
        sr = self.sample_rate
        events: list[tuple[int, int, int, int, float, float]] = []  # (sample, on?, chan, key, bend, velocity)
        for note in notes:
            key = int(np.clip(round(note.midi), 0, 127))
            chan = int(note.string) % STRINGS
            start = int(round(note.start_s * sr))
            if start >= num_samples:
                continue
            events.append((start, 1, chan, key, float(note.midi - key), float(note.velocity)))
            events.append((start + max(1, int(round(note.duration_s * sr))), 0, chan, key, 0.0, 0.0))
        events.sort(key=lambda e: (e[0], e[1]))  # at one instant, note-offs before note-ons
        events.append((num_samples, -1, 0, 0, 0.0, 0.0))
        left = np.zeros(num_samples, dtype=np.float32)
        right = np.zeros(num_samples, dtype=np.float32)
        sounding: dict[int, int] = {}  # channel -> key
        t = 0
        for when, kind, chan, key, bend, velocity in events:
            when = min(when, num_samples)
            if when > t:  # render up to the event
                self._write(synth, left, right, t, when - t)
                t = when
            if kind == 1:  # note-on: release this string's note, bend for its tuning, pluck
                if chan in sounding:
                    lib.fluid_synth_noteoff(synth, chan, sounding.pop(chan))
                lib.fluid_synth_pitch_bend(synth, chan, int(np.clip(8192 + round(bend / BEND_RANGE * 8192), 0, 16383)))
                lib.fluid_synth_noteon(synth, chan, key, int(np.clip(round(127 * velocity), 1, 127)))
                sounding[chan] = key
            elif kind == 0 and sounding.get(chan) == key:
                lib.fluid_synth_noteoff(synth, chan, key)
                del sounding[chan]
        return 0.5 * (left + right)

    def _write(self, synth: int, left: np.ndarray, right: np.ndarray, offset: int, n: int) -> None:
        fp = ctypes.POINTER(ctypes.c_float)
        lp = left[offset:].ctypes.data_as(fp)
        rp = right[offset:].ctypes.data_as(fp)
        self._lib.fluid_synth_write_float(synth, n, lp, 0, 1, rp, 0, 1)

    def close(self) -> None:
        if getattr(self, "_owner", None):
            self._lib.delete_fluid_synth(self._owner)  # frees the SoundFont too
            self._owner = None
        if getattr(self, "_settings", None):
            self._lib.delete_fluid_settings(self._settings)
            self._settings = None

    def __del__(self) -> None:
        self.close()


def parse_presets(text: str) -> list[tuple[int, int]]:
    """``"27,8/25"`` -> [(0, 27), (8, 25)]; DdspfxError for a preset that is not a dry guitar's number."""
    presets = []
    for item in filter(None, (x.strip() for x in text.split(","))):
        bank_s, sep, prog_s = item.rpartition("/")
        try:
            bank, prog = (int(bank_s) if sep else 0), int(prog_s)
        except ValueError:
            raise DdspfxError(f"preset {item!r} is not PROGRAM or BANK/PROGRAM (numbers), e.g. 27 or 8/25") from None
        if (bank, prog) in NOT_DRY:
            raise DdspfxError(f"preset {bank}/{prog} is a {NOT_DRY[(bank, prog)]}: not a dry guitar")
        presets.append((bank, prog))
    return presets


class SoundFontSource:
    """``make_source("sf2:PATH")``: random phrases played by the dry guitars of a SoundFont.

    The synthesiser is opened lazily, once per process, so the source pickles into DataLoader workers.
    """

    def __init__(self, bank: str, presets: Iterable[tuple[int, int]] | None = None,
                 sample_rate: int = SAMPLE_RATE, max_shift_s: float = 0.25) -> None:
        self.path = resolve_bank(bank)
        self.sample_rate = int(sample_rate)
        self.max_shift_s = max_shift_s
        self.reserved = is_reserved(self.path)
        self.name = f"sf2:{bank}"
        synth = FluidSynth(self.path, self.sample_rate)
        try:
            wanted = list(presets) if presets is not None else list(DRY_GUITARS)
            self.presets = [bp for bp in wanted if synth.has_preset(*bp)]
        finally:
            synth.close()
        missing = [bp for bp in (presets or ()) if bp not in self.presets]
        if missing or not self.presets:
            what = ", ".join(f"{b}/{p}" for b, p in (missing or DRY_GUITARS))
            raise DdspfxError(f"{self.path} has no preset {what}; list its presets with "
                              f"`fluidsynth -n -i {self.path}` and name guitars as sf2:PATH#BANK/PROGRAM")
        self._synth: FluidSynth | None = None
        self._pid = -1

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_synth"], state["_pid"] = None, -1
        return state

    def _player(self) -> FluidSynth:
        if self._synth is None or self._pid != os.getpid():
            self._synth = FluidSynth(self.path, self.sample_rate)
            self._pid = os.getpid()
        return self._synth

    def render(self, rng: np.random.Generator, seconds: float) -> np.ndarray:
        """One phrase of ``seconds`` on a random preset, peak-normalised to [0.5, 0.95] like the synth."""
        bank, program = self.presets[int(rng.integers(0, len(self.presets)))]
        notes = [n for n in compose_plain_phrase(rng, seconds) if MIDI_LOW - 1 <= n.midi <= MIDI_HIGH + 1]
        n = int(round(seconds * self.sample_rate))
        x = self._player().render(notes, n, bank, program)
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        if peak > 0.0:
            x *= np.float32(rng.uniform(0.5, 0.95) / peak)
        return x

    def sample(self, rng: np.random.Generator, duration_s: float) -> np.ndarray:
        """A phrase, onset-shifted, normalised to ``TARGET_DBFS`` RMS (peak <= 0.99)."""
        return shifted_phrase(rng, duration_s, self.sample_rate, self.max_shift_s, self.render)


def make_soundfont_source(body: str, sample_rate: int = SAMPLE_RATE) -> SoundFontSource:
    """``"PATH#27,8/25"`` or ``"timgm6mb"`` (the part after ``sf2:``) -> SoundFontSource."""
    bank, sep, presets = body.partition("#")
    if not bank.strip():
        raise DdspfxError("source 'sf2:' needs a SoundFont, e.g. sf2:timgm6mb or sf2:/path/bank.sf2#27")
    return SoundFontSource(bank.strip(), parse_presets(presets) if sep else None, sample_rate)


def check_training_source(source: object) -> None:
    """DdspfxError if ``source`` (or a part of a mix) plays a bank reserved for held-out evaluation."""
    parts = getattr(source, "sources", None)
    for part in parts if parts is not None else ():
        check_training_source(part)
    if getattr(source, "reserved", False):
        raise DdspfxError(f"{getattr(source, 'path', source)} is reserved for held-out evaluation "
                          "(FluidR3 / MuseScore General); train on another SoundFont")


__all__ = ["BANKS", "DRY_GUITARS", "FluidSynth", "SoundFontSource", "check_training_source", "is_reserved",
           "make_soundfont_source", "parse_presets", "resolve_bank"]
