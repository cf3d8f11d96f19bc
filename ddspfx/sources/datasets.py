"""Dry guitar from two public datasets, read from their published folder layouts.

EGFxSet (Pedroza, Meza & Roman, 2022; zenodo.org/record/7044411, CC BY 4.0): every note
of a 22-fret Stratocaster (6 strings x 23 frets = 138 notes) with 5 pickup settings,
5 s each, clean and through 12 real effects. Layout (as in mirdata's EGFxSet index)::

    EGFxSet/Clean/<pickup>/<string>-<fret>.wav      pickup: Bridge, Bridge-Middle, Middle, Middle-Neck, Neck
    EGFxSet/<Effect>/<pickup>/<string>-<fret>.wav   (effected copies -- never used as dry)

IDMT-SMT-Guitar V2 (Kehling, Abesser, Dittmar & Schuller, DAFx 2014; zenodo.org/record/7544110,
CC BY-NC-ND 4.0): direct-input recordings of electric guitars with xml/csv annotations::

    IDMT-SMT-GUITAR_V2/dataset1/<guitar>/audio/*.wav     e.g. "Fender Strat Clean Neck SC", "... Chords"
    IDMT-SMT-GUITAR_V2/dataset1/<guitar>/annotation/*.xml
    IDMT-SMT-GUITAR_V2/dataset2/audio/*.wav              licks, with annotation/*.xml
    IDMT-SMT-GUITAR_V2/dataset3/audio/*.wav              short pieces, with annotation/*.xml
    IDMT-SMT-GUITAR_V2/dataset4/<guitar>/<tempo>/<genre>/audio/*.wav
        guitar: "Career SG", "Ibanez 2820" (electric), "acoustic_mic", "acoustic_pickup" (acoustic)

Only the clean electric recordings are dry guitar for ddspfx: EGFxSet's ``Clean`` folder,
and every IDMT ``audio`` folder except dataset4's acoustic guitars (opt in with
``include_acoustic=True``). Annotation folders are ignored.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.errors import DdspfxError
from ddspfx.sources.folder import FileListSource

EGFXSET_PICKUPS: tuple[str, ...] = ("Bridge", "Bridge-Middle", "Middle", "Middle-Neck", "Neck")
EGFXSET_URL = "https://zenodo.org/record/7044411"
IDMT_URL = "https://zenodo.org/record/7544110"

_EGFX_NOTE = re.compile(r"^([1-6])-(\d{1,2})\.wav$", re.IGNORECASE)


def _find_dir(root: Path, names: Sequence[str], depth: int = 2) -> Path | None:
    """``root`` itself if it contains one of ``names``, else the shallowest sub-folder (up to ``depth``) that does."""
    frontier = [root]
    for _ in range(depth + 1):
        nxt: list[Path] = []
        for d in frontier:
            if any((d / n).is_dir() for n in names):
                return d
            nxt.extend(sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")))
        frontier = nxt
    return None


def egfxset_clean_files(root: str | os.PathLike[str], pickups: Sequence[str] = EGFXSET_PICKUPS) -> list[Path]:
    """The clean notes ``Clean/<pickup>/<string>-<fret>.wav`` under an EGFxSet download (sorted)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DdspfxError(f"{root} is not a folder; pass egfxset:PATH with the unzipped EGFxSet (see {EGFXSET_URL})")
    base = root.parent if root.name.lower() == "clean" else _find_dir(root, ("Clean",))
    if base is None:
        raise DdspfxError(
            f"{root} does not look like EGFxSet: no Clean/<pickup>/ folder found; "
            f"download EGFxSet.zip from {EGFXSET_URL} and unzip it there"
        )
    unknown = set(pickups) - set(EGFXSET_PICKUPS)
    if unknown:
        raise DdspfxError(f"unknown EGFxSet pickup(s) {sorted(unknown)}; choose from {', '.join(EGFXSET_PICKUPS)}")
    clean = base / "Clean"
    files = [
        f
        for pickup in pickups
        if (clean / pickup).is_dir()
        for f in sorted((clean / pickup).iterdir())
        if _EGFX_NOTE.match(f.name) and f.is_file()
    ]
    if not files:
        raise DdspfxError(
            f"{clean} has no <string>-<fret>.wav notes in {', '.join(pickups)}; the EGFxSet download looks incomplete"
        )
    return files


def idmt_dry_files(
    root: str | os.PathLike[str], subsets: Sequence[int] = (1, 2, 3, 4), include_acoustic: bool = False
) -> list[Path]:
    """The recordings in ``datasetN/**/audio/*.wav`` of IDMT-SMT-Guitar (sorted), electric guitars only by default."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DdspfxError(f"{root} is not a folder; pass idmt:PATH with the unzipped IDMT-SMT-GUITAR_V2 (see {IDMT_URL})")
    names = [f"dataset{i}" for i in subsets]
    base = _find_dir(root, names)
    if base is None:
        raise DdspfxError(
            f"{root} does not look like IDMT-SMT-Guitar: no {'/'.join(names)} folders found; "
            f"download IDMT-SMT-GUITAR_V2.zip from {IDMT_URL} and unzip it there"
        )
    files: list[Path] = []
    for name in names:
        d = base / name
        if not d.is_dir():
            continue
        for f in sorted(d.rglob("*")):
            if f.suffix.lower() != ".wav" or f.parent.name.lower() != "audio" or not f.is_file():
                continue
            rel = f.relative_to(d).parts
            if name == "dataset4" and not include_acoustic and rel[0].lower().startswith("acoustic"):
                continue
            files.append(f)
    if not files:
        raise DdspfxError(f"{base} has no recordings in {'/'.join(names)}/**/audio/*.wav; the download looks incomplete")
    return files


class EGFxSetSource(FileListSource):
    """``make_source("egfxset:PATH")``: EGFxSet's clean single notes."""

    def __init__(
        self, root: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE,
        pickups: Sequence[str] = EGFXSET_PICKUPS, **kwargs,
    ) -> None:
        super().__init__(egfxset_clean_files(root, pickups), f"egfxset:{root}", sample_rate, **kwargs)
        if not self.files:
            raise DdspfxError(f"egfxset:{root}: none of the clean notes can be read; re-download EGFxSet ({EGFXSET_URL})")


class IdmtSource(FileListSource):
    """``make_source("idmt:PATH")``: IDMT-SMT-Guitar's direct-input electric guitar recordings."""

    def __init__(
        self, root: str | os.PathLike[str], sample_rate: int = SAMPLE_RATE,
        subsets: Sequence[int] = (1, 2, 3, 4), include_acoustic: bool = False, **kwargs,
    ) -> None:
        super().__init__(idmt_dry_files(root, subsets, include_acoustic), f"idmt:{root}", sample_rate, **kwargs)
        if not self.files:
            raise DdspfxError(f"idmt:{root}: none of the recordings can be read; re-download IDMT-SMT-Guitar ({IDMT_URL})")
