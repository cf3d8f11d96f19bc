"""The plugin packages reserved for the project's judges, and how either host recognises their plugins.

The judges' packages (:data:`RESERVED_PACKAGES`) are held out for evaluation: no training implementation may
come from them (``ddspfx.plugins.table`` refuses such an entry), and both hosts refuse to instantiate their
plugins unless ``allow_reserved=True`` (evaluation only: ``experiments/judges.py``). A plugin is recognised by
what travels with it (an LV2 URI prefix, a LADSPA maker), by its file (an LV2 bundle or LADSPA library listed in
the dpkg file list of a reserved package installed here) and, where the package is not installed, by the
Debian file names of those packages.
"""

from __future__ import annotations

import fnmatch
import functools
import os
from pathlib import Path

RESERVED_PACKAGES: tuple[str, ...] = (
    "guitarix-lv2", "calf-plugins", "caps", "tap-plugins", "swh-lv2", "swh-plugins", "zam-plugins", "mda-lv2",
)
"""Debian packages kept for the project's judges: never a training implementation (see README, Data)."""

RESERVED_URI_PREFIXES: tuple[str, ...] = (
    "http://guitarix.sourceforge.net", "https://guitarix.org", "http://calf.sourceforge.net",
    "http://moddevices.com/plugins/caps", "http://quitte.de/dsp/caps", "http://moddevices.com/plugins/tap",
    "http://plugin.org.uk/swh-plugins", "urn:zamaudio", "http://drobilla.net/plugins/mda",
)
"""LV2 plugin URIs of the reserved packages (guitarix, calf, caps, tap, swh, zam, mda)."""

RESERVED_BUNDLE_PATTERNS: tuple[str, ...] = (
    "gx*.lv2", "calf*.lv2", "*caps*.lv2", "tap*.lv2", "*-swh.lv2", "swh*.lv2", "zam*.lv2", "mda*.lv2",
)
"""LV2 bundle directory names (matched lower-cased) of the reserved packages: gx_amp.lv2, calf.lv2,
mod-caps-*.lv2, tap-echo.lv2, amp-swh.lv2, ZamComp.lv2 / ZaMaximX2.lv2, mda.lv2."""

RESERVED_LADSPA_PATTERNS: tuple[str, ...] = ("caps.so", "tap_*.so", "*_[0-9][0-9][0-9][0-9].so", "za*-ladspa.so")
"""LADSPA library file names (matched lower-cased) of the reserved packages: caps.so, tap_echo.so, swh-plugins'
``<name>_<unique ID>.so`` (sc4m_1916.so), zam-plugins' ZamComp-ladspa.so / ZaMaximX2-ladspa.so."""

RESERVED_MAKERS: tuple[str, ...] = ("Tim Goetze", "Tom Szilagyi", "Steve Harris", "Damien Zammit")
"""Fragments of the LADSPA ``Maker`` of the reserved packages' authors (caps, tap, swh, zam)."""


@functools.lru_cache(maxsize=1)
def reserved_files() -> dict[str, str]:
    """LV2 bundle directories and LADSPA libraries (normalised paths) -> reserved package, from the dpkg file
    lists of the reserved packages installed here."""
    out: dict[str, str] = {}
    info = Path("/var/lib/dpkg/info")
    for pkg in RESERVED_PACKAGES:
        for lst in list(info.glob(f"{pkg}.list")) + list(info.glob(f"{pkg}:*.list")):
            for line in lst.read_text(errors="replace").splitlines():
                if line.endswith(".lv2") or (line.endswith(".so") and "/ladspa/" in line):
                    out[os.path.normpath(line)] = pkg
    return out


def _listed(path: str) -> str | None:
    files = reserved_files()
    hit = next((p for p in (os.path.normpath(path), os.path.realpath(path)) if p in files), None)
    return f"{hit} belongs to {files[hit]}" if hit else None


def _named(path: str, patterns: tuple[str, ...]) -> str | None:
    name = os.path.basename(os.path.normpath(path))
    pattern = next((p for p in patterns if fnmatch.fnmatchcase(name.lower(), p)), None)
    return f"{name} matches {pattern}" if pattern else None


def reserved_reason(uri: str, bundle: str = "") -> str | None:
    """Why LV2 plugin ``uri`` (in bundle directory ``bundle``) is held out for evaluation, or None if it is not."""
    prefix = next((p for p in RESERVED_URI_PREFIXES if uri.startswith(p)), None)
    if prefix:
        return f"its URI starts with {prefix}"
    if not bundle:
        return None
    why = _listed(bundle) or _named(bundle, RESERVED_BUNDLE_PATTERNS)
    return f"its bundle {why}" if why else None


def ladspa_reserved_reason(library: str | os.PathLike[str], maker: str = "") -> str | None:
    """Why a plugin of LADSPA ``library`` (made by ``maker``) is held out for evaluation, or None if it is not."""
    fragment = next((m for m in RESERVED_MAKERS if m in maker), None)
    if fragment:
        return f"its maker is {fragment}"
    why = _listed(str(library)) or _named(str(library), RESERVED_LADSPA_PATTERNS)
    return f"its library {why}" if why else None
