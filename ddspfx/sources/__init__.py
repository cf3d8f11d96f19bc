"""Dry guitar sources: where the clean guitar that ddspfx puts through pedals comes from.

``make_source(spec)`` understands these specs:

- ``"synth"`` -- the embedded Karplus-Strong guitar (``ddspfx.sources.synth``); no download;
- ``"modal"`` -- the embedded modal (additive stiff-string) guitar (``ddspfx.sources.modal``); no download;
- ``"procedural"`` -- a fresh virtual guitar per clip (``ddspfx.sources.procedural``); ``procedural:N`` the first N
  training guitars; ``procedural:heldout[:N]`` guitars no training spec produces; no download;
- ``"mix:A=w,B=w,..."`` -- each clip from one of the named sources, drawn with the given weights
  (e.g. ``mix:synth=0.7,modal=0.3``);
- ``"folder:PATH"`` -- any folder of audio files, searched recursively;
- ``"egfxset:PATH"`` -- the clean recordings of EGFxSet (``Clean/<pickup>/<string>-<fret>.wav``);
- ``"idmt:PATH"`` -- the electric-guitar recordings of IDMT-SMT-Guitar (``dataset1..4``);
- ``"sf2:BANK"`` -- phrases played by the dry guitars of a SoundFont (``ddspfx.sources.soundfont``):
  ``sf2:timgm6mb``, ``sf2:gmbank`` or ``sf2:/path/bank.sf2[#27,8/25]``.

Every source returns dry mono float32 ``(T,)`` clips at its sample rate, cropped (with a
random onset shift) and loudness-normalised to ``TARGET_DBFS`` RMS with a 0.99 peak limit.
"""

from __future__ import annotations

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.errors import DdspfxError
from ddspfx.sources.base import RESERVED, TARGET_DBFS, MixSource, Source, shifted_phrase
from ddspfx.sources.datasets import EGFxSetSource, IdmtSource
from ddspfx.sources.folder import FolderSource

SPECS: tuple[str, ...] = ("synth", "modal", "procedural", "procedural:N", "procedural:heldout", "mix:synth=0.7,modal=0.3",
                          "folder:PATH", "egfxset:PATH", "idmt:PATH", "sf2:timgm6mb", "sf2:PATH#PROGRAM")


def _mix(body: str, spec: str, sample_rate: int) -> MixSource:
    parts, weights = [], []
    for item in filter(None, (x.strip() for x in body.split(","))):
        name, eq, w = item.partition("=")
        try:
            weight = float(w) if eq else 1.0
        except ValueError:
            raise DdspfxError(f"source {spec!r}: weight {w!r} of {name!r} is not a number") from None
        if weight <= 0 or name.strip().lower().startswith("mix"):
            raise DdspfxError(f"source {spec!r}: each part needs a positive weight and cannot be a mix itself")
        parts.append(make_source(name.strip(), sample_rate))
        weights.append(weight)
    if not parts:
        raise DdspfxError(f"source {spec!r} names no sources; write e.g. mix:synth=0.7,modal=0.3")
    return MixSource(parts, weights)


def make_source(spec: str, sample_rate: int = SAMPLE_RATE) -> Source:
    """Build the source a spec string names (see the module docstring); DdspfxError for a bad spec."""
    kind, sep, path = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "mix":
        return _mix(path, spec, sample_rate)
    if kind in ("folder", "egfxset", "idmt"):
        if not path:
            raise DdspfxError(f"source {spec!r} needs a path, e.g. {kind}:/data/{kind}")
        if kind == "folder":
            return FolderSource(path, sample_rate)
        return (EGFxSetSource if kind == "egfxset" else IdmtSource)(path, sample_rate)
    from ddspfx.sources import modal, procedural, soundfont, synth  # numba, scipy.signal: ~1.3 s, not for SPECS

    if kind == "synth" and not sep:
        return synth.SynthSource(sample_rate)
    if kind == "modal" and not sep:
        return modal.ModalSource(sample_rate)
    if kind == "procedural":
        return procedural.make_procedural_source(path, sample_rate)
    if kind == "sf2" and sep:
        return soundfont.make_soundfont_source(path, sample_rate)
    raise DdspfxError(f"unknown source {spec!r}; use one of {', '.join(SPECS)}")


__all__ = ["Source", "MixSource", "make_source", "shifted_phrase", "SPECS", "TARGET_DBFS"]


def reserved_spec(spec: str) -> str:
    """Why ``spec`` may not reach training ("" if it may): it names a bank kept as held-out evaluation data.

    Read from the spec string alone (no file is opened), so a materialised folder's recorded source can be
    checked on a machine that lacks the bank; :func:`ddspfx.sources.soundfont.check_training_source` checks a
    built source, symlinks included.
    """
    text = spec.lower()
    hit = next((frag for frag in RESERVED if frag in text), None)
    return f"which plays {hit}, held-out evaluation data" if hit else ""
