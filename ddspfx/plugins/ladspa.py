"""An in-process LADSPA host in ctypes: load a plugin library, read its ports, run float32 audio through it.

LADSPA (``/usr/include/ladspa.h``, version 1.1) is a C ABI of one exported function,
``ladspa_descriptor(index)``, returning a ``LADSPA_Descriptor`` per plugin (NULL past the last one). A
host instantiates a plugin at a sample rate, connects every port to a float buffer (audio ports to
arrays, control ports to single floats), calls ``activate``, then ``run(n)`` on blocks of up to
``block_size`` samples, and finally ``deactivate`` and ``cleanup``.

ddspfx renders mono: :meth:`LadspaPlugin.process` feeds the same (T,) signal to every main audio input
(so a stereo-only plugin gets identical left and right) and returns the mean of its main audio outputs
(a stereo reverb's L and R averaged to mono). Other audio inputs (e.g. a phaser's FM inputs) read zeros.

A missing library or label is a one-line :class:`~ddspfx.errors.DdspfxError` that names the Debian
package to install. Plugins of the judges' packages (:data:`~ddspfx.plugins.reserved.RESERVED_PACKAGES`: caps,
tap-plugins, swh-plugins, zam-plugins) are refused unless ``allow_reserved=True`` (held-out evaluation only).
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Mapping, Sequence, TypeVar

import numpy as np

from ddspfx.errors import DdspfxError
from ddspfx.plugins.reserved import ladspa_reserved_reason

# --- constants of ladspa.h ----------------------------------------------------------------------------------

PROPERTY_REALTIME = 0x1
PROPERTY_INPLACE_BROKEN = 0x2
PROPERTY_HARD_RT_CAPABLE = 0x4

PORT_INPUT = 0x1
PORT_OUTPUT = 0x2
PORT_CONTROL = 0x4
PORT_AUDIO = 0x8

HINT_BOUNDED_BELOW = 0x1
HINT_BOUNDED_ABOVE = 0x2
HINT_TOGGLED = 0x4
HINT_SAMPLE_RATE = 0x8
HINT_LOGARITHMIC = 0x10
HINT_INTEGER = 0x20
HINT_DEFAULT_MASK = 0x3C0
HINT_DEFAULT_NONE = 0x0
HINT_DEFAULT_MINIMUM = 0x40
HINT_DEFAULT_LOW = 0x80
HINT_DEFAULT_MIDDLE = 0xC0
HINT_DEFAULT_HIGH = 0x100
HINT_DEFAULT_MAXIMUM = 0x140
HINT_DEFAULT_0 = 0x200
HINT_DEFAULT_1 = 0x240
HINT_DEFAULT_100 = 0x280
HINT_DEFAULT_440 = 0x2C0

DEFAULT_BLOCK_SIZE = 1024
"""Samples per ``run`` call; every buffer is this long, the last block of a clip may be shorter."""

SEARCH_DIRS: tuple[str, ...] = ("/usr/lib/ladspa", "/usr/local/lib/ladspa", "/usr/lib/x86_64-linux-gnu/ladspa")
"""Where a bare library file name is looked for, after the directories of ``$LADSPA_PATH``."""


# --- the C structs (field order and types exactly as in ladspa.h) ---------------------------------------------


class _PortRangeHint(ctypes.Structure):
    _fields_ = [("HintDescriptor", ctypes.c_int), ("LowerBound", ctypes.c_float), ("UpperBound", ctypes.c_float)]


_Handle = ctypes.c_void_p
_FloatPtr = ctypes.POINTER(ctypes.c_float)


class _Descriptor(ctypes.Structure):
    pass


_Descriptor._fields_ = [
    ("UniqueID", ctypes.c_ulong),
    ("Label", ctypes.c_char_p),
    ("Properties", ctypes.c_int),
    ("Name", ctypes.c_char_p),
    ("Maker", ctypes.c_char_p),
    ("Copyright", ctypes.c_char_p),
    ("PortCount", ctypes.c_ulong),
    ("PortDescriptors", ctypes.POINTER(ctypes.c_int)),
    ("PortNames", ctypes.POINTER(ctypes.c_char_p)),
    ("PortRangeHints", ctypes.POINTER(_PortRangeHint)),
    ("ImplementationData", ctypes.c_void_p),
    ("instantiate", ctypes.CFUNCTYPE(_Handle, ctypes.POINTER(_Descriptor), ctypes.c_ulong)),
    ("connect_port", ctypes.CFUNCTYPE(None, _Handle, ctypes.c_ulong, _FloatPtr)),
    ("activate", ctypes.CFUNCTYPE(None, _Handle)),
    ("run", ctypes.CFUNCTYPE(None, _Handle, ctypes.c_ulong)),
    ("run_adding", ctypes.CFUNCTYPE(None, _Handle, ctypes.c_ulong)),
    ("set_run_adding_gain", ctypes.CFUNCTYPE(None, _Handle, ctypes.c_float)),
    ("deactivate", ctypes.CFUNCTYPE(None, _Handle)),
    ("cleanup", ctypes.CFUNCTYPE(None, _Handle)),
]


# --- what a host needs to know about a port -------------------------------------------------------------------


@dataclass(frozen=True)
class LadspaPortInfo:
    """One port as the descriptor declares it; bounds as declared (see :meth:`bounds` for Hz-scaled ones)."""

    index: int
    name: str
    descriptor: int
    hints: int
    lower: float
    upper: float

    @property
    def is_input(self) -> bool:
        return bool(self.descriptor & PORT_INPUT)

    @property
    def is_output(self) -> bool:
        return bool(self.descriptor & PORT_OUTPUT)

    @property
    def is_audio(self) -> bool:
        return bool(self.descriptor & PORT_AUDIO)

    @property
    def is_control(self) -> bool:
        return bool(self.descriptor & PORT_CONTROL)

    @property
    def logarithmic(self) -> bool:
        return bool(self.hints & HINT_LOGARITHMIC)

    @property
    def integer(self) -> bool:
        return bool(self.hints & HINT_INTEGER)

    @property
    def toggled(self) -> bool:
        return bool(self.hints & HINT_TOGGLED)

    @property
    def sample_rate_scaled(self) -> bool:
        return bool(self.hints & HINT_SAMPLE_RATE)

    def bounds(self, sample_rate: float) -> tuple[float | None, float | None]:
        """(lower, upper) in real units (multiplied by the rate for SAMPLE_RATE ports); None where unbounded."""
        k = float(sample_rate) if self.sample_rate_scaled else 1.0
        lo = self.lower * k if self.hints & HINT_BOUNDED_BELOW else None
        hi = self.upper * k if self.hints & HINT_BOUNDED_ABOVE else None
        return lo, hi

    def default(self, sample_rate: float) -> float | None:
        """The default LADSPA's HINT_DEFAULT_* rules give, or None (DEFAULT_NONE, or a rule without its bound).

        MINIMUM/MAXIMUM are the bounds; LOW/MIDDLE/HIGH weight the bounds 0.75/0.25, 0.5/0.5, 0.25/0.75,
        in log space for LOGARITHMIC ports; 0, 1, 100, 440 are those numbers. Toggled ports read 0 or 1.
        """
        rule = self.hints & HINT_DEFAULT_MASK
        fixed = {HINT_DEFAULT_0: 0.0, HINT_DEFAULT_1: 1.0, HINT_DEFAULT_100: 100.0, HINT_DEFAULT_440: 440.0}
        if rule in fixed:
            return fixed[rule]
        lo, hi = self.bounds(sample_rate)
        if rule == HINT_DEFAULT_MINIMUM:
            return lo
        if rule == HINT_DEFAULT_MAXIMUM:
            return hi
        weights = {HINT_DEFAULT_LOW: 0.25, HINT_DEFAULT_MIDDLE: 0.5, HINT_DEFAULT_HIGH: 0.75}
        if rule not in weights or lo is None or hi is None:
            return None
        w = weights[rule]
        if self.logarithmic and lo > 0 and hi > 0:
            value = math.exp(math.log(lo) * (1.0 - w) + math.log(hi) * w)
        else:
            value = lo * (1.0 - w) + hi * w
        return float(round(value)) if self.integer else value

    def host_default(self, sample_rate: float) -> float:
        """The value a control starts at: :meth:`default`, else the lower bound clipped to 0 if possible, else 0."""
        d = self.default(sample_rate)
        if d is not None:
            return d
        lo, hi = self.bounds(sample_rate)
        value = 0.0
        if lo is not None and value < lo:
            value = lo
        if hi is not None and value > hi:
            value = hi
        return value


@dataclass(frozen=True)
class LadspaPluginInfo:
    """One plugin of a library, as its descriptor describes it."""

    library: str
    index: int
    unique_id: int
    label: str
    name: str
    maker: str
    properties: int
    ports: tuple[LadspaPortInfo, ...]

    def port(self, name: str, control_input: bool = True) -> LadspaPortInfo:
        """The port called ``name`` (among control inputs by default); KeyError listing the valid names."""
        pool = self.control_inputs if control_input else self.ports
        hits = [p for p in pool if p.name == name]
        if len(hits) != 1:
            what = "ambiguous" if hits else "unknown"
            raise KeyError(f"{self.label}: {what} port {name!r}; control inputs: {', '.join(repr(p.name) for p in self.control_inputs)}")
        return hits[0]

    @property
    def control_inputs(self) -> tuple[LadspaPortInfo, ...]:
        return tuple(p for p in self.ports if p.is_control and p.is_input)

    @property
    def audio_inputs(self) -> tuple[LadspaPortInfo, ...]:
        return tuple(p for p in self.ports if p.is_audio and p.is_input)

    @property
    def audio_outputs(self) -> tuple[LadspaPortInfo, ...]:
        return tuple(p for p in self.ports if p.is_audio and p.is_output)


def _text(b: bytes | None) -> str:
    return "" if b is None else b.decode("utf-8", errors="replace")


# --- libraries --------------------------------------------------------------------------------------------------


def find_library(filename: str, package: str | None = None) -> Path:
    """The path of a LADSPA library: an existing path as given, else ``filename`` in $LADSPA_PATH and SEARCH_DIRS.

    Raises a one-line DdspfxError naming ``package`` (the Debian package that ships it) when absent.
    """
    p = Path(filename)
    if p.is_absolute() or os.sep in filename:
        if p.is_file():
            return p
        dirs: list[str] = [str(p.parent)]
    else:
        dirs = [d for d in os.environ.get("LADSPA_PATH", "").split(os.pathsep) if d] + list(SEARCH_DIRS)
        for d in dirs:
            candidate = Path(d) / filename
            if candidate.is_file():
                return candidate
    hint = f"; install it with `apt-get install {package}`" if package else ""
    raise DdspfxError(f"LADSPA library {p.name} not found in {', '.join(dirs)}{hint}")


class LadspaLibrary:
    """A loaded LADSPA ``.so`` and its plugins. Libraries stay loaded for the life of the process."""

    def __init__(self, path: str | Path, package: str | None = None) -> None:
        self.path = find_library(str(path), package)
        self.package = package
        try:
            self._dll = ctypes.CDLL(str(self.path))
        except OSError as exc:
            raise DdspfxError(f"cannot load LADSPA library {self.path}: {exc}") from None
        try:
            fn = self._dll.ladspa_descriptor
        except AttributeError:
            raise DdspfxError(f"{self.path} is not a LADSPA library (no ladspa_descriptor symbol)") from None
        fn.argtypes = [ctypes.c_ulong]
        fn.restype = ctypes.POINTER(_Descriptor)
        self._descriptors: list[ctypes._Pointer[_Descriptor]] = []
        i = 0
        while True:
            d = fn(i)
            if not d:
                break
            self._descriptors.append(d)
            i += 1
        self.plugins: tuple[LadspaPluginInfo, ...] = tuple(self._info(i, d.contents) for i, d in enumerate(self._descriptors))

    def _info(self, index: int, d: _Descriptor) -> LadspaPluginInfo:
        ports = tuple(
            LadspaPortInfo(
                index=j,
                name=_text(d.PortNames[j]),
                descriptor=int(d.PortDescriptors[j]),
                hints=int(d.PortRangeHints[j].HintDescriptor),
                lower=float(d.PortRangeHints[j].LowerBound),
                upper=float(d.PortRangeHints[j].UpperBound),
            )
            for j in range(int(d.PortCount))
        )
        return LadspaPluginInfo(str(self.path), index, int(d.UniqueID), _text(d.Label), _text(d.Name), _text(d.Maker),
                          int(d.Properties), ports)

    def plugin(self, label: str | int) -> LadspaPluginInfo:
        """A plugin by label (str) or unique ID (int); a one-line DdspfxError if the library lacks it."""
        for info in self.plugins:
            if (info.label == label) if isinstance(label, str) else (info.unique_id == label):
                return info
        hint = f" (Debian package {self.package})" if self.package else ""
        labels = ", ".join(p.label for p in self.plugins[:12]) + (", ..." if len(self.plugins) > 12 else "")
        raise DdspfxError(f"LADSPA library {self.path}{hint} has no plugin {label!r}; it has {labels}")

    def descriptor(self, info: LadspaPluginInfo) -> ctypes._Pointer[_Descriptor]:
        return self._descriptors[info.index]


@functools.lru_cache(maxsize=None)
def load_library(filename: str, package: str | None = None) -> LadspaLibrary:
    """:class:`LadspaLibrary`, cached per (filename, package): dlopen and descriptor parsing happen once."""
    return LadspaLibrary(filename, package)


# --- one running plugin --------------------------------------------------------------------------------------------


_Instance = TypeVar("_Instance", bound="HostedInstance")


class HostedInstance(ABC):
    """A plugin instance owning C-side state: ``with`` closes it, and so does garbage collection if forgotten
    (shared by the LADSPA and LV2 hosts; subclasses implement an idempotent ``close``)."""

    @abstractmethod
    def close(self) -> None:
        """Free the C-side instance; a second call does nothing."""

    def __enter__(self: _Instance) -> _Instance:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:  # a forgotten close() still frees the C side
        try:
            self.close()
        except Exception:
            pass


def within_bounds(value: float, bounds: tuple[float | None, float | None], what: str) -> float:
    """``value`` as a float if finite and inside ``bounds`` (either may be None; a 1e-4 relative tolerance for
    values written in decimal), else a ValueError naming ``what``: shared by the LADSPA and LV2 hosts."""
    lo, hi = bounds
    v = float(value)
    tol = 1e-4 * max(1.0, abs(v))
    if (lo is not None and v < lo - tol) or (hi is not None and v > hi + tol) or not math.isfinite(v):
        raise ValueError(f"{what} = {v:g} outside its bounds [{lo}, {hi}]")
    return v


def mean_of_outputs(block: np.ndarray, outs: Sequence[np.ndarray]) -> None:
    """Write the mean of the plugin's audio output buffers (their first ``len(block)`` samples) into ``block``:
    the mono result of a stereo plugin, shared by the LADSPA and LV2 hosts."""
    n = block.size
    block[:] = outs[0][:n]
    for buf in outs[1:]:
        block += buf[:n]
    if len(outs) > 1:
        block *= np.float32(1.0 / len(outs))


class LadspaPlugin(HostedInstance):
    """One instance of a LADSPA plugin at one sample rate; use as a context manager so it is always cleaned up.

    ``controls`` sets control inputs by port name (the rest start at :meth:`LadspaPortInfo.host_default`).
    ``inputs``/``outputs`` name the audio ports that carry the signal (default: all audio inputs / outputs);
    other audio inputs read zeros and other outputs are discarded. Plugins of the reserved packages are refused
    unless ``allow_reserved`` (held-out evaluation only).
    """

    def __init__(self, library: LadspaLibrary, label: str | int, sample_rate: float, controls: Mapping[str, float] | None = None,
                 inputs: Sequence[str] | None = None, outputs: Sequence[str] | None = None,
                 block_size: int = DEFAULT_BLOCK_SIZE, allow_reserved: bool = False) -> None:
        self._handle: int | None = None  # before anything can raise: close() runs from __del__
        self.info = library.plugin(label)
        reason = ladspa_reserved_reason(library.path, self.info.maker)
        if reason and not allow_reserved:
            raise DdspfxError(f"LADSPA plugin {self.info.label} is reserved for held-out evaluation ({reason}); "
                              "pass allow_reserved=True only in evaluation")
        self.sample_rate = float(sample_rate)
        self.block_size = int(block_size)
        self._desc = library.descriptor(self.info)
        d = self._desc.contents
        self._in_ports = self._pick(self.info.audio_inputs, inputs, "input")
        self._out_ports = self._pick(self.info.audio_outputs, outputs, "output")
        if not self._out_ports:
            raise DdspfxError(f"LADSPA plugin {self.info.label} has no audio output")
        n_ports = len(self.info.ports)
        # one float per port for controls; one block per audio port. Kept as attributes: the plugin
        # holds raw pointers into them until cleanup.
        self._controls = np.zeros(n_ports, dtype=np.float32)
        self._audio = np.zeros((n_ports, self.block_size), dtype=np.float32)
        for p in self.info.control_inputs:
            self._controls[p.index] = p.host_default(self.sample_rate)
        self._handle = d.instantiate(self._desc, int(round(self.sample_rate)))
        if not self._handle:
            raise DdspfxError(f"LADSPA plugin {self.info.label} failed to instantiate at {self.sample_rate:g} Hz")
        self._activated = False
        ctl_base = self._controls.ctypes.data
        for p in self.info.ports:
            if p.is_audio:
                addr = self._audio[p.index].ctypes.data
            else:
                addr = ctl_base + 4 * p.index
            d.connect_port(self._handle, p.index, ctypes.cast(addr, _FloatPtr))
        for name, value in (controls or {}).items():
            self.set_control(name, value)
        self._run = d.run
        if d.activate:
            d.activate(self._handle)
        self._activated = True

    def _pick(self, ports: tuple[LadspaPortInfo, ...], names: Sequence[str] | None, kind: str) -> tuple[LadspaPortInfo, ...]:
        if names is None:
            return ports
        by_name = {p.name: p for p in ports}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise KeyError(f"{self.info.label}: no audio {kind} {missing}; audio {kind}s: {', '.join(by_name)}")
        return tuple(by_name[n] for n in names)

    def set_control(self, name: str, value: float) -> None:
        """Set a control input by port name, in real units (Hz for SAMPLE_RATE ports); checked against its bounds."""
        port = self.info.port(name)
        self._controls[port.index] = within_bounds(value, port.bounds(self.sample_rate), f"{self.info.label}: control {name!r}")

    def control(self, name: str) -> float:
        """The current value of a control port (inputs and outputs) by name."""
        return float(self._controls[self.info.port(name, control_input=False).index])

    def process(self, x: np.ndarray) -> np.ndarray:
        """Run mono float32 ``x`` (T,) through the plugin in blocks; returns (T,) float32 (mean of the outputs)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"LadspaPlugin.process takes mono (T,) audio, got shape {x.shape}")
        if self._handle is None:
            raise RuntimeError(f"{self.info.label}: process() after close()")
        y = np.empty_like(x)
        ins = [self._audio[p.index] for p in self._in_ports]
        outs = [self._audio[p.index] for p in self._out_ports]
        for start in range(0, x.size, self.block_size):
            n = min(self.block_size, x.size - start)
            for buf in ins:
                buf[:n] = x[start:start + n]
            self._run(self._handle, n)
            mean_of_outputs(y[start:start + n], outs)
        return y

    def close(self) -> None:
        """deactivate + cleanup (once); the instance cannot process afterwards."""
        if self._handle is None:
            return
        d = self._desc.contents
        try:
            if self._activated and d.deactivate:
                d.deactivate(self._handle)
        finally:
            d.cleanup(self._handle)
            self._handle = None

