"""An in-process LV2 host in ctypes over liblilv: find a plugin by URI, read its ports, run float32 audio through it.

Many Debian plugin packages ship LV2 only. LV2 plugins are described in Turtle (``.ttl``) files, so a host
needs a parser: liblilv (Debian ``liblilv-0-0``, a C library without Python bindings) reads the bundles
on the LV2 path once per process (:func:`get_world`; a plugin's full description is read and cached on
first use) and instantiates plugins. A subprocess per clip would cost ~0.7 s, so the host runs in-process;
plugin libraries, once loaded, stay loaded (as in the LADSPA host).

A host instantiates a plugin with *features* (``LV2_Feature``: a URI and a pointer), connects every port
(audio and CV ports to float arrays, control ports to single floats, atom ports to an atom sequence),
calls ``activate``, ``run(n)`` per block, ``deactivate`` and frees the instance. This host offers the
features most effect plugins require: ``urid:map``/``urid:unmap`` (Python callbacks over one process-wide
URI table), ``options:options`` (block lengths, sample rate), ``buf-size`` block-length guarantees, a
silent ``log:log`` and ``worker:schedule`` (a synchronous worker: requests made during a ``run`` are
worked right after it, so renders stay deterministic). A plugin that requires anything else (state
paths, instance access, a UI) is refused with a one-line message that lists what is missing.

Conventions follow :mod:`ddspfx.plugins.ladspa`: mono in, mono out. :meth:`Lv2Plugin.process` feeds the
same (T,) signal to every main audio input (ports not marked ``lv2:isSideChain``) and returns the mean of
the main audio outputs; side-chain and CV inputs read zeros, atom inputs an empty sequence. Every
``run`` gets a full block (the last block of a clip is zero-padded and its tail dropped), so plugins that
require a fixed or power-of-two block length run too.

Plugins of the packages in :data:`~ddspfx.plugins.reserved.RESERVED_PACKAGES` are the project's held-out judges:
the host refuses them (:func:`~ddspfx.plugins.reserved.reserved_reason`: URI prefix, bundle name, or the package's
dpkg file list) unless ``allow_reserved=True``.
"""

from __future__ import annotations

import ctypes
import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping, Sequence
from urllib.parse import unquote, urlparse

import numpy as np

from ddspfx.errors import DdspfxError
from ddspfx.plugins.ladspa import HostedInstance, mean_of_outputs, within_bounds
from ddspfx.plugins.reserved import reserved_reason

LILV_SONAME = "liblilv-0.so.0"
LILV_PACKAGE = "liblilv-0-0"

DEFAULT_BLOCK_SIZE = 1024
"""Frames per ``run`` call (every call gets exactly this many: the host pads the last block)."""

ATOM_CAPACITY = 8192
"""Bytes of each atom-port buffer unless the port asks for more (``rsz:minimumSize``)."""

KNOWN_PACKAGES: tuple[tuple[str, str], ...] = (
    ("http://lv2plug.in/plugins/eg-", "lv2-examples"),
    ("http://drobilla.net/plugins/fomp/", "fomp"),
    ("http://gareus.org/oss/lv2/b_", "setbfree"),
    ("http://gareus.org/oss/lv2/", "x42-plugins"),
    ("urn:ardour:", "ardour-lv2-plugins"),
    ("http://lsp-plug.in/plugins/lv2/", "lsp-plugins-lv2"),
    ("http://distrho.sf.net/plugins/", "dpf-plugins-lv2"),
    ("urn:dragonfly:", "dragonfly-reverb-lv2"),
    ("https://github.com/michaelwillis/dragonfly-reverb", "dragonfly-reverb-lv2"),
    ("http://invadarecords.com/plugins/lv2/", "invada-studio-plugins-lv2"),
    ("http://eq10q.sourceforge.net/", "eq10q"),
    ("http://hippie.lt/lv2/gate", "abgate"),
    ("http://zynaddsubfx.sourceforge.net", "zynaddsubfx-lv2"),
)
"""URI prefix -> the free Debian package that ships it, for "install X" messages."""


def package_for(uri: str) -> str | None:
    """The Debian package known to ship plugin ``uri`` (free packages only), or None."""
    return next((pkg for prefix, pkg in KNOWN_PACKAGES if uri.startswith(prefix)), None)


# --- URIs of the LV2 specifications --------------------------------------------------------------------------------

_CORE = "http://lv2plug.in/ns/lv2core#"
_ATOM = "http://lv2plug.in/ns/ext/atom#"
_BUF = "http://lv2plug.in/ns/ext/buf-size#"
URID_MAP = "http://lv2plug.in/ns/ext/urid#map"
URID_UNMAP = "http://lv2plug.in/ns/ext/urid#unmap"
OPTIONS = "http://lv2plug.in/ns/ext/options#options"
LOG = "http://lv2plug.in/ns/ext/log#log"
WORKER_SCHEDULE = "http://lv2plug.in/ns/ext/worker#schedule"
_WORKER_INTERFACE = b"http://lv2plug.in/ns/ext/worker#interface"
BOUNDED_BLOCK = _BUF + "boundedBlockLength"
FIXED_BLOCK = _BUF + "fixedBlockLength"
POW2_BLOCK = _BUF + "powerOf2BlockLength"
_PARAM_SAMPLE_RATE = "http://lv2plug.in/ns/ext/parameters#sampleRate"
_MIN_SIZE = "http://lv2plug.in/ns/ext/resize-port#minimumSize"

_PORT_CLASSES: dict[str, str] = {
    "audio": _CORE + "AudioPort", "control": _CORE + "ControlPort", "cv": _CORE + "CVPort",
    "atom": _ATOM + "AtomPort", "event": "http://lv2plug.in/ns/ext/event#EventPort",
}
_PROPERTIES: dict[str, str] = {
    "integer": _CORE + "integer", "toggled": _CORE + "toggled", "enumeration": _CORE + "enumeration",
    "sampleRate": _CORE + "sampleRate", "isSideChain": _CORE + "isSideChain",
    "connectionOptional": _CORE + "connectionOptional", "reportsLatency": _CORE + "reportsLatency",
    "logarithmic": "http://lv2plug.in/ns/ext/port-props#logarithmic",
}
_HOST_OBLIGATIONS = frozenset({_CORE + "isLive", _CORE + "inPlaceBroken", _CORE + "hardRTCapable"})
"""Required "features" that only constrain the host; this one meets them (separate buffers, no RT needs)."""

PortKind = Literal["audio", "control", "cv", "atom", "event", "other"]

# --- liblilv --------------------------------------------------------------------------------------------------------

_p = ctypes.c_void_p
_SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "lilv_world_new": (_p, []),
    "lilv_world_load_all": (None, [_p]),
    "lilv_world_load_bundle": (None, [_p, _p]),
    "lilv_world_get_all_plugins": (_p, [_p]),
    "lilv_new_uri": (_p, [_p, ctypes.c_char_p]),
    "lilv_new_file_uri": (_p, [_p, ctypes.c_char_p, ctypes.c_char_p]),
    "lilv_node_free": (None, [_p]),
    "lilv_node_as_string": (ctypes.c_char_p, [_p]),
    "lilv_node_as_uri": (ctypes.c_char_p, [_p]),
    "lilv_node_as_float": (ctypes.c_float, [_p]),
    "lilv_node_as_int": (ctypes.c_int, [_p]),
    "lilv_nodes_free": (None, [_p]),
    "lilv_nodes_begin": (_p, [_p]),
    "lilv_nodes_get": (_p, [_p, _p]),
    "lilv_nodes_next": (_p, [_p, _p]),
    "lilv_nodes_is_end": (ctypes.c_bool, [_p, _p]),
    "lilv_plugins_begin": (_p, [_p]),
    "lilv_plugins_get": (_p, [_p, _p]),
    "lilv_plugins_next": (_p, [_p, _p]),
    "lilv_plugins_is_end": (ctypes.c_bool, [_p, _p]),
    "lilv_plugins_get_by_uri": (_p, [_p, _p]),
    "lilv_plugin_get_uri": (_p, [_p]),
    "lilv_plugin_get_name": (_p, [_p]),
    "lilv_plugin_get_bundle_uri": (_p, [_p]),
    "lilv_plugin_get_library_uri": (_p, [_p]),
    "lilv_plugin_get_required_features": (_p, [_p]),
    "lilv_plugin_get_num_ports": (ctypes.c_uint32, [_p]),
    "lilv_plugin_get_port_ranges_float": (None, [_p, _p, _p, _p]),
    "lilv_plugin_get_port_by_index": (_p, [_p, ctypes.c_uint32]),
    "lilv_plugin_has_latency": (ctypes.c_bool, [_p]),
    "lilv_plugin_get_latency_port_index": (ctypes.c_uint32, [_p]),
    "lilv_plugin_instantiate": (_p, [_p, ctypes.c_double, _p]),
    "lilv_instance_free": (None, [_p]),
    "lilv_port_get_symbol": (_p, [_p, _p]),
    "lilv_port_get_name": (_p, [_p, _p]),
    "lilv_port_is_a": (ctypes.c_bool, [_p, _p, _p]),
    "lilv_port_has_property": (ctypes.c_bool, [_p, _p, _p]),
    "lilv_port_get": (_p, [_p, _p, _p]),
    "lilv_port_get_scale_points": (_p, [_p, _p]),
    "lilv_scale_points_free": (None, [_p]),
    "lilv_scale_points_begin": (_p, [_p]),
    "lilv_scale_points_get": (_p, [_p, _p]),
    "lilv_scale_points_next": (_p, [_p, _p]),
    "lilv_scale_points_is_end": (ctypes.c_bool, [_p, _p]),
    "lilv_scale_point_get_label": (_p, [_p]),
    "lilv_scale_point_get_value": (_p, [_p]),
}


@functools.lru_cache(maxsize=None)
def lilv() -> ctypes.CDLL:
    """liblilv-0, loaded once with typed signatures; a one-line DdspfxError naming the package when absent."""
    try:
        dll = ctypes.CDLL(LILV_SONAME)
    except OSError:
        raise DdspfxError(f"LV2 hosting needs {LILV_SONAME}: install {LILV_PACKAGE} "
                          f"(apt-get install {LILV_PACKAGE})") from None
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(dll, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return dll


def _s(b: bytes | None) -> str:
    return "" if b is None else b.decode("utf-8", errors="replace")


# --- the C structs of lv2.h, urid.h, options.h, log.h, atom.h -------------------------------------------------------


class _Feature(ctypes.Structure):
    _fields_ = [("URI", ctypes.c_char_p), ("data", ctypes.c_void_p)]


class _Descriptor(ctypes.Structure):
    _fields_ = [
        ("URI", ctypes.c_char_p),
        ("instantiate", ctypes.c_void_p),
        ("connect_port", ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)),
        ("activate", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
        ("run", ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32)),
        ("deactivate", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
        ("cleanup", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
        ("extension_data", ctypes.c_void_p),
    ]


class _Instance(ctypes.Structure):
    """``struct LilvInstanceImpl`` (public in lilv.h, because lilv_instance_run & co. are inline)."""

    _fields_ = [("lv2_descriptor", ctypes.POINTER(_Descriptor)), ("lv2_handle", ctypes.c_void_p),
                ("pimpl", ctypes.c_void_p)]


_MapFn = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_void_p, ctypes.c_char_p)
_UnmapFn = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32)
# log:log's printf/vprintf are variadic; a fixed-argument callback that ignores the rest is safe on the
# SysV x86-64 and AAPCS64 calling conventions (the caller cleans up) and keeps the plugin quiet.
_LogFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_char_p)


class _UridMap(ctypes.Structure):
    _fields_ = [("handle", ctypes.c_void_p), ("map", _MapFn)]


class _UridUnmap(ctypes.Structure):
    _fields_ = [("handle", ctypes.c_void_p), ("unmap", _UnmapFn)]


class _Log(ctypes.Structure):
    _fields_ = [("handle", ctypes.c_void_p), ("printf", _LogFn), ("vprintf", _LogFn)]


class _Option(ctypes.Structure):
    _fields_ = [("context", ctypes.c_int), ("subject", ctypes.c_uint32), ("key", ctypes.c_uint32),
                ("size", ctypes.c_uint32), ("type", ctypes.c_uint32), ("value", ctypes.c_void_p)]


# worker.h: schedule_work(handle, size, data) and respond(handle, size, data) share this signature.
_WorkFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)
_ExtensionDataFn = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p)


class _WorkerSchedule(ctypes.Structure):
    _fields_ = [("handle", ctypes.c_void_p), ("schedule_work", _WorkFn)]


class _WorkerInterface(ctypes.Structure):
    _fields_ = [
        ("work", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, _WorkFn, ctypes.c_void_p, ctypes.c_uint32,
                                  ctypes.c_void_p)),
        ("work_response", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)),
        ("end_run", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)),
    ]


# One URI <-> URID table for the process: plugins may cache URIDs across instances.
_URIDS: dict[bytes, int] = {}
_URI_BUFFERS: list[ctypes.Array[ctypes.c_char]] = []  # index URID-1; kept alive for unmap's returned pointers


def urid(uri: str | bytes) -> int:
    """The URID of ``uri`` in this process's table (1, 2, ...; 0 is reserved for "none")."""
    key = uri.encode() if isinstance(uri, str) else uri
    got = _URIDS.get(key)
    if got is None:
        _URI_BUFFERS.append(ctypes.create_string_buffer(key))
        got = _URIDS[key] = len(_URI_BUFFERS)
    return got


def _map(handle: int | None, uri: bytes | None) -> int:
    return 0 if uri is None else urid(uri)


def _unmap(handle: int | None, u: int) -> int | None:
    return ctypes.addressof(_URI_BUFFERS[u - 1]) if 0 < u <= len(_URI_BUFFERS) else None


def _log(handle: int | None, type_: int, fmt: bytes | None) -> int:
    return 0


# The worker runs synchronously: requests an instance schedules during run() are worked, and the responses
# delivered, right after that run() returns (deterministic, no thread). Queues keyed by the feature's handle.
_WORK_QUEUES: dict[int, tuple[list[bytes], list[bytes]]] = {}  # handle -> (requests, responses)


def _enqueue(which: int, handle: int | None, size: int, data: int | None) -> int:
    queues = _WORK_QUEUES.get(handle or 0)
    if queues is None or (size and not data):
        return 1  # LV2_WORKER_ERR_UNKNOWN
    queues[which].append(ctypes.string_at(data, size) if size and data else b"")
    return 0  # LV2_WORKER_SUCCESS


def _schedule(handle: int | None, size: int, data: int | None) -> int:
    return _enqueue(0, handle, size, data)


def _respond(handle: int | None, size: int, data: int | None) -> int:
    return _enqueue(1, handle, size, data)


_MAP_CB, _UNMAP_CB, _LOG_CB = _MapFn(_map), _UnmapFn(_unmap), _LogFn(_log)  # module-level: never collected
_SCHEDULE_CB, _RESPOND_CB = _WorkFn(_schedule), _WorkFn(_respond)
_URID_MAP = _UridMap(None, _MAP_CB)
_URID_UNMAP = _UridUnmap(None, _UNMAP_CB)
_LOG_STRUCT = _Log(None, _LOG_CB, _LOG_CB)


def _features_offered(block_size: int) -> frozenset[str]:
    """Feature URIs this host meets at ``block_size`` (a plugin requiring any other one is refused)."""
    pow2 = {POW2_BLOCK} if block_size > 0 and block_size & (block_size - 1) == 0 else set()
    return frozenset({URID_MAP, URID_UNMAP, OPTIONS, LOG, WORKER_SCHEDULE, BOUNDED_BLOCK, FIXED_BLOCK} | pow2
                     | _HOST_OBLIGATIONS)


class _Features:
    """The NULL-terminated ``LV2_Feature*`` array for one sample rate and block size, with what it points to."""

    _next_key = 1

    def __init__(self, sample_rate: float, block_size: int) -> None:
        self.key = _Features._next_key
        _Features._next_key += 1
        self.requests: list[bytes] = []
        self.responses: list[bytes] = []
        _WORK_QUEUES[self.key] = (self.requests, self.responses)
        self._schedule = _WorkerSchedule(self.key, _SCHEDULE_CB)
        self._ints = (ctypes.c_int32 * 2)(block_size, ATOM_CAPACITY)
        self._rate = ctypes.c_float(sample_rate)
        i32, f32 = urid(_ATOM + "Int"), urid(_ATOM + "Float")
        ints = ctypes.addressof(self._ints)
        opts = [(_BUF + "minBlockLength", i32, ints), (_BUF + "maxBlockLength", i32, ints),
                (_BUF + "nominalBlockLength", i32, ints), (_BUF + "sequenceSize", i32, ints + 4),
                (_PARAM_SAMPLE_RATE, f32, ctypes.addressof(self._rate))]
        self._options = (_Option * (len(opts) + 1))(*[_Option(0, 0, urid(k), 4, t, v) for k, t, v in opts])
        pointers: list[tuple[str, int | None]] = [
            (URID_MAP, ctypes.addressof(_URID_MAP)), (URID_UNMAP, ctypes.addressof(_URID_UNMAP)),
            (OPTIONS, ctypes.addressof(self._options)), (LOG, ctypes.addressof(_LOG_STRUCT)),
            (WORKER_SCHEDULE, ctypes.addressof(self._schedule)),
        ]
        flags = _features_offered(block_size) - {u for u, _ in pointers} - _HOST_OBLIGATIONS  # block-length promises
        pointers += [(uri, None) for uri in sorted(flags)]
        self._structs = [_Feature(uri.encode(), data) for uri, data in pointers]
        self.array = (ctypes.POINTER(_Feature) * (len(self._structs) + 1))(
            *[ctypes.pointer(f) for f in self._structs])  # the last element stays NULL

    def release(self) -> None:
        """Forget the worker queues (the instance is freed)."""
        _WORK_QUEUES.pop(self.key, None)


# --- what a host needs to know about a plugin ------------------------------------------------------------------------


@dataclass(frozen=True)
class Lv2PortInfo:
    """One port as the plugin's Turtle declares it; ``minimum``/``maximum``/``default`` as declared (None where
    absent), so ``lv2:sampleRate`` ports hold fractions of the rate (see :meth:`bounds`)."""

    index: int
    symbol: str
    name: str
    kind: PortKind
    is_input: bool
    minimum: float | None
    maximum: float | None
    default: float | None
    properties: frozenset[str] = frozenset()
    """Short names of the port properties ddspfx reads (keys of ``_PROPERTIES``: integer, toggled, ...)."""
    scale_points: tuple[tuple[float, str], ...] = ()
    minimum_size: int = 0
    """``rsz:minimumSize`` of an atom port, in bytes (0: not declared)."""

    @property
    def is_output(self) -> bool:
        return not self.is_input

    @property
    def is_audio(self) -> bool:
        return self.kind == "audio"

    @property
    def is_control(self) -> bool:
        return self.kind == "control"

    @property
    def side_chain(self) -> bool:
        return "isSideChain" in self.properties

    @property
    def logarithmic(self) -> bool:
        return "logarithmic" in self.properties

    @property
    def integer(self) -> bool:
        return "integer" in self.properties

    @property
    def toggled(self) -> bool:
        return "toggled" in self.properties

    @property
    def sample_rate_scaled(self) -> bool:
        return "sampleRate" in self.properties

    def bounds(self, sample_rate: float) -> tuple[float | None, float | None]:
        """(minimum, maximum) in real units (times the rate for ``lv2:sampleRate`` ports); None where absent."""
        k = float(sample_rate) if self.sample_rate_scaled else 1.0
        return (None if self.minimum is None else self.minimum * k, None if self.maximum is None else self.maximum * k)

    def host_default(self, sample_rate: float) -> float:
        """The value a control starts at: ``lv2:default``, else 0 clipped into the bounds."""
        k = float(sample_rate) if self.sample_rate_scaled else 1.0
        if self.default is not None:
            return self.default * k
        lo, hi = self.bounds(sample_rate)
        value = 0.0 if lo is None else max(0.0, lo)
        return value if hi is None else min(value, hi)


@dataclass(frozen=True)
class Lv2PluginInfo:
    """One LV2 plugin as lilv reads it from its bundle."""

    uri: str
    name: str
    bundle: str
    """The bundle directory (a path)."""
    library: str
    ports: tuple[Lv2PortInfo, ...]
    required_features: tuple[str, ...]
    latency_port: int | None = None

    def port(self, key: str, control_input: bool = True) -> Lv2PortInfo:
        """The port whose symbol (first) or name is ``key``, among control inputs by default; KeyError listing them."""
        pool = self.control_inputs if control_input else self.ports
        hits = [p for p in pool if p.symbol == key] or [p for p in pool if p.name == key]
        if len(hits) != 1:
            what = "ambiguous" if hits else "unknown"
            have = ", ".join(f"{p.symbol} ({p.name})" for p in self.control_inputs)
            raise KeyError(f"{self.uri}: {what} port {key!r}; control inputs: {have}")
        return hits[0]

    @property
    def control_inputs(self) -> tuple[Lv2PortInfo, ...]:
        return tuple(p for p in self.ports if p.is_control and p.is_input)

    @property
    def audio_inputs(self) -> tuple[Lv2PortInfo, ...]:
        """Main audio inputs (side-chain inputs excluded)."""
        return tuple(p for p in self.ports if p.is_audio and p.is_input and not p.side_chain)

    @property
    def audio_outputs(self) -> tuple[Lv2PortInfo, ...]:
        """Main audio outputs (side-chain outputs excluded)."""
        return tuple(p for p in self.ports if p.is_audio and p.is_output and not p.side_chain)


def _path(file_uri: str) -> str:
    return unquote(urlparse(file_uri).path)


# --- the world: every bundle on the LV2 path, read once -----------------------------------------------------------------


class Lv2World:
    """A lilv world with all installed bundles loaded; plugins' port tables are read once and cached.

    Lives for the whole process (plugin descriptions and loaded libraries are never freed).
    """

    def __init__(self, load_all: bool = True) -> None:
        self._lib = lilv()
        self._world = self._lib.lilv_world_new()
        if not self._world:
            raise DdspfxError("lilv_world_new failed (out of memory?)")
        self._nodes: dict[str, int] = {}
        self._infos: dict[str, Lv2PluginInfo] = {}
        self._pinned: dict[str, ctypes.CDLL] = {}
        if load_all:
            self._lib.lilv_world_load_all(self._world)

    def node(self, uri: str) -> int:
        """A cached URI node (freed never: a world's handful of spec URIs)."""
        n = self._nodes.get(uri)
        if n is None:
            n = self._nodes[uri] = self._lib.lilv_new_uri(self._world, uri.encode())
        return n

    def load_bundle(self, path: str | Path) -> None:
        """Load one bundle directory (e.g. one outside the LV2 path); its plugins become findable by URI."""
        p = Path(path)
        if not (p / "manifest.ttl").is_file():
            raise DdspfxError(f"{p} is not an LV2 bundle (no manifest.ttl)")
        node = self._lib.lilv_new_file_uri(self._world, None, (str(p.resolve()) + "/").encode())
        try:
            self._lib.lilv_world_load_bundle(self._world, node)
        finally:
            self._lib.lilv_node_free(node)

    def plugin_uris(self) -> tuple[str, ...]:
        """URIs of every plugin the world knows, in lilv's order."""
        lib, plugins = self._lib, self._lib.lilv_world_get_all_plugins(self._world)
        out, it = [], lib.lilv_plugins_begin(plugins)
        while not lib.lilv_plugins_is_end(plugins, it):
            out.append(_s(lib.lilv_node_as_uri(lib.lilv_plugin_get_uri(lib.lilv_plugins_get(plugins, it)))))
            it = lib.lilv_plugins_next(plugins, it)
        return tuple(out)

    def handle(self, uri: str, package: str | None = None) -> int:
        """The ``const LilvPlugin*`` of ``uri``; a one-line DdspfxError naming the package when absent."""
        plugins = self._lib.lilv_world_get_all_plugins(self._world)
        plugin = self._lib.lilv_plugins_get_by_uri(plugins, self.node(uri))
        if not plugin:
            pkg = package or package_for(uri)
            hint = f"; install it with `apt-get install {pkg}`" if pkg else " (is its package installed? see lv2ls)"
            raise DdspfxError(f"LV2 plugin {uri} not found on the LV2 path{hint}")
        return int(plugin)

    def plugin(self, uri: str, package: str | None = None) -> Lv2PluginInfo:
        """The :class:`Lv2PluginInfo` of ``uri`` (cached); DdspfxError naming the package when absent."""
        info = self._infos.get(uri)
        if info is None:
            info = self._infos[uri] = self._read(self.handle(uri, package), uri)
        return info

    def _nodes_list(self, nodes: int) -> list[str]:
        lib, out = self._lib, list[str]()
        if not nodes:
            return out
        it = lib.lilv_nodes_begin(nodes)
        while not lib.lilv_nodes_is_end(nodes, it):
            out.append(_s(lib.lilv_node_as_string(lib.lilv_nodes_get(nodes, it))))
            it = lib.lilv_nodes_next(nodes, it)
        lib.lilv_nodes_free(nodes)
        return out

    def _owned_string(self, node: int | None) -> str:
        if not node:
            return ""
        try:
            return _s(self._lib.lilv_node_as_string(node))
        finally:
            self._lib.lilv_node_free(node)

    def _read(self, plugin: int, uri: str) -> Lv2PluginInfo:
        lib = self._lib
        n = int(lib.lilv_plugin_get_num_ports(plugin))
        ranges = np.full((3, n), np.nan, dtype=np.float32)  # (min, max, default) per port; NaN where undeclared
        lib.lilv_plugin_get_port_ranges_float(plugin, *(ranges[i].ctypes.data for i in range(3)))
        ports = []
        for i in range(n):
            port = lib.lilv_plugin_get_port_by_index(plugin, i)
            kind: PortKind = next((k for k, c in _PORT_CLASSES.items()  # type: ignore[misc]
                                   if lib.lilv_port_is_a(plugin, port, self.node(c))), "other")
            props = frozenset(k for k, u in _PROPERTIES.items() if lib.lilv_port_has_property(plugin, port, self.node(u)))
            size_node = lib.lilv_port_get(plugin, port, self.node(_MIN_SIZE)) if kind == "atom" else None
            min_size = 0
            if size_node:
                min_size = int(lib.lilv_node_as_int(size_node))
                lib.lilv_node_free(size_node)
            lo, hi, default = (None if math.isnan(v) else float(v) for v in ranges[:, i])
            ports.append(Lv2PortInfo(
                index=i, symbol=_s(lib.lilv_node_as_string(lib.lilv_port_get_symbol(plugin, port))),
                name=self._owned_string(lib.lilv_port_get_name(plugin, port)), kind=kind,
                is_input=bool(lib.lilv_port_is_a(plugin, port, self.node(_CORE + "InputPort"))),
                minimum=lo, maximum=hi, default=default, properties=props,
                scale_points=self._scale_points(plugin, port), minimum_size=min_size))
        return Lv2PluginInfo(
            uri=uri, name=self._owned_string(lib.lilv_plugin_get_name(plugin)),
            bundle=_path(_s(lib.lilv_node_as_uri(lib.lilv_plugin_get_bundle_uri(plugin)))),
            library=_path(_s(lib.lilv_node_as_uri(lib.lilv_plugin_get_library_uri(plugin)))),
            ports=tuple(ports), required_features=tuple(self._nodes_list(lib.lilv_plugin_get_required_features(plugin))),
            latency_port=int(lib.lilv_plugin_get_latency_port_index(plugin)) if lib.lilv_plugin_has_latency(plugin) else None)

    def _scale_points(self, plugin: int, port: int) -> tuple[tuple[float, str], ...]:
        lib = self._lib
        points = lib.lilv_port_get_scale_points(plugin, port)
        if not points:
            return ()
        out, it = [], lib.lilv_scale_points_begin(points)
        while not lib.lilv_scale_points_is_end(points, it):
            sp = lib.lilv_scale_points_get(points, it)
            out.append((float(lib.lilv_node_as_float(lib.lilv_scale_point_get_value(sp))),
                        _s(lib.lilv_node_as_string(lib.lilv_scale_point_get_label(sp)))))
            it = lib.lilv_scale_points_next(points, it)
        lib.lilv_scale_points_free(points)
        return tuple(sorted(out))

    def instantiate(self, uri: str, sample_rate: float, features: _Features) -> int:
        """A ``LilvInstance*`` (not yet connected or activated); DdspfxError if the plugin refuses.

        The plugin's library is pinned (dlopened once more, never closed): lilv would otherwise dlopen and
        dlclose it with every instance, which costs up to 2 ms and leaked ~12 KB per instance (measured on
        a-comp and LSP). Libraries stay loaded for the life of the process, as in the LADSPA host.
        """
        library = self.plugin(uri).library
        if library not in self._pinned:
            try:
                self._pinned[library] = ctypes.CDLL(library)
            except OSError as exc:
                raise DdspfxError(f"cannot load LV2 plugin library {library}: {exc}") from None
        inst = self._lib.lilv_plugin_instantiate(self.handle(uri), float(sample_rate), features.array)
        if not inst:
            raise DdspfxError(f"LV2 plugin {uri} failed to instantiate at {sample_rate:g} Hz")
        return int(inst)

    def free_instance(self, instance: int) -> None:
        self._lib.lilv_instance_free(instance)


@functools.lru_cache(maxsize=None)
def get_world() -> Lv2World:
    """The process's :class:`Lv2World` with every bundle on the LV2 path ($LV2_PATH or lilv's default) loaded."""
    return Lv2World()


def plugin_info(uri: str, package: str | None = None) -> Lv2PluginInfo:
    """:meth:`Lv2World.plugin` on :func:`get_world`."""
    return get_world().plugin(uri, package)


def is_available(uri: str) -> bool:
    """Whether liblilv is present and ``uri`` is on the LV2 path (no instantiation)."""
    try:
        get_world().handle(uri)
    except DdspfxError:
        return False
    return True


# --- one running plugin ------------------------------------------------------------------------------------------------


class Lv2Plugin(HostedInstance):
    """One instance of an LV2 plugin at one sample rate; use as a context manager so it is always freed.

    ``controls`` sets control inputs by port symbol or name (the rest start at :meth:`Lv2PortInfo.host_default`).
    ``inputs``/``outputs`` name (by symbol) the audio ports that carry the signal (default: the main ones).
    Plugins of :data:`~ddspfx.plugins.reserved.RESERVED_PACKAGES` are refused unless ``allow_reserved`` (held-out
    evaluation only).
    """

    def __init__(self, uri: str, sample_rate: float, controls: Mapping[str, float] | None = None,
                 inputs: Sequence[str] | None = None, outputs: Sequence[str] | None = None,
                 block_size: int = DEFAULT_BLOCK_SIZE, package: str | None = None, allow_reserved: bool = False,
                 world: Lv2World | None = None) -> None:
        self._instance: int | None = None
        self._activated = False
        self._world = world or get_world()
        self.info = self._world.plugin(uri, package)
        reason = reserved_reason(uri, self.info.bundle)
        if reason and not allow_reserved:
            raise DdspfxError(f"LV2 plugin {uri} is reserved for held-out evaluation ({reason}); "
                              "pass allow_reserved=True only in evaluation")
        self.sample_rate = float(sample_rate)
        self.block_size = int(block_size)
        supported = _features_offered(self.block_size)
        missing = [f for f in self.info.required_features if f not in supported]
        if missing:
            raise DdspfxError(f"LV2 plugin {uri} requires features this host lacks: {', '.join(missing)}")
        self._in_ports = self._pick(self.info.audio_inputs, inputs, "input")
        self._out_ports = self._pick(self.info.audio_outputs, outputs, "output")
        if not self._out_ports:
            raise DdspfxError(f"LV2 plugin {uri} has no audio output")
        n = len(self.info.ports)
        # Kept as attributes: the plugin holds raw pointers into them until it is freed.
        self._controls = np.zeros(n, dtype=np.float32)  # one float per port (controls only)
        self._audio = np.zeros((n, self.block_size), dtype=np.float32)  # one block per audio/CV port
        self._atoms: dict[int, np.ndarray] = {}  # atom ports: uint32 words (header size, type, then body)
        self._atom_out: list[np.ndarray] = []
        for p in self.info.control_inputs:
            self._controls[p.index] = p.host_default(self.sample_rate)
        self._features = _Features(self.sample_rate, self.block_size)
        try:
            self._instance = self._world.instantiate(uri, self.sample_rate, self._features)
        except DdspfxError:
            self._features.release()
            raise
        try:
            self._connect(controls)
        except BaseException:
            self.close()
            raise

    def _connect(self, controls: Mapping[str, float] | None) -> None:
        """Connect every port, set ``controls``, activate."""
        uri = self.info.uri
        assert self._instance is not None
        self._desc = ctypes.cast(self._instance, ctypes.POINTER(_Instance)).contents
        d = self._desc.lv2_descriptor.contents
        self._handle = self._desc.lv2_handle
        self._activated = False
        seq, chunk = urid(_ATOM + "Sequence"), urid(_ATOM + "Chunk")
        for p in self.info.ports:
            if p.kind in ("audio", "cv"):
                addr: int | None = self._audio[p.index].ctypes.data
            elif p.kind == "control":
                addr = self._controls.ctypes.data + 4 * p.index
            elif p.kind == "atom":
                words = np.zeros(max(ATOM_CAPACITY, p.minimum_size) // 4, dtype=np.uint32)
                if p.is_input:  # an empty sequence: header {size 8 (the body), Sequence}, body {unit 0, pad 0}
                    words[:2] = (8, seq)
                else:  # an output: the host offers the capacity as a Chunk before every run
                    words[:2] = (words.nbytes - 8, chunk)
                    self._atom_out.append(words)
                self._atoms[p.index] = words
                addr = words.ctypes.data
            elif "connectionOptional" in p.properties:
                addr = None
            else:
                raise DdspfxError(f"LV2 plugin {uri}: cannot connect port {p.symbol!r} ({p.kind} port)")
            d.connect_port(self._handle, p.index, addr)
        self._chunk = chunk
        for name, value in (controls or {}).items():
            self.set_control(name, value)
        self._run = d.run
        self._worker: _WorkerInterface | None = None
        if d.extension_data:
            iface = ctypes.cast(d.extension_data, _ExtensionDataFn)(_WORKER_INTERFACE)
            if iface:
                self._worker = ctypes.cast(iface, ctypes.POINTER(_WorkerInterface)).contents
        if d.activate:
            d.activate(self._handle)
        self._activated = True

    def _work(self) -> None:
        """The synchronous worker's turn after a run: work each request, deliver each response, end the run."""
        w, f = self._worker, self._features
        if w is None:
            f.requests.clear()
            return
        while f.requests:
            req = f.requests.pop(0)
            w.work(self._handle, _RESPOND_CB, f.key, len(req), ctypes.create_string_buffer(req))
        while f.responses:
            resp = f.responses.pop(0)
            w.work_response(self._handle, len(resp), ctypes.create_string_buffer(resp))
        if w.end_run:
            w.end_run(self._handle)

    def _pick(self, ports: tuple[Lv2PortInfo, ...], names: Sequence[str] | None, kind: str) -> tuple[Lv2PortInfo, ...]:
        if names is None:
            return ports
        every = {p.symbol: p for p in self.info.ports if p.is_audio and (p.is_input == (kind == "input"))}
        missing = [s for s in names if s not in every]
        if missing:
            raise KeyError(f"{self.info.uri}: no audio {kind} {missing}; audio {kind}s: {', '.join(every)}")
        return tuple(every[s] for s in names)

    def set_control(self, key: str, value: float) -> None:
        """Set a control input by symbol or name, in real units (Hz for ``lv2:sampleRate`` ports); checked
        against its bounds."""
        port = self.info.port(key)
        self._controls[port.index] = within_bounds(value, port.bounds(self.sample_rate), f"{self.info.uri}: control {key!r}")

    def control(self, key: str) -> float:
        """The current value of a control port (inputs and outputs) by symbol or name."""
        return float(self._controls[self.info.port(key, control_input=False).index])

    @property
    def latency(self) -> int:
        """Frames of latency the plugin reports (its latency output after a run); 0 if it reports none."""
        i = self.info.latency_port
        return 0 if i is None else int(round(float(self._controls[i])))

    def process(self, x: np.ndarray, controls: Mapping[str, float] | None = None) -> np.ndarray:
        """Run mono float32 ``x`` (T,) through the plugin in blocks (after setting ``controls``, which persist);
        returns (T,) float32, the mean of the main outputs."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"Lv2Plugin.process takes mono (T,) audio, got shape {x.shape}")
        if self._instance is None:
            raise RuntimeError(f"{self.info.uri}: process() after close()")
        for key, value in (controls or {}).items():
            self.set_control(key, value)
        y = np.empty_like(x)
        ins = [self._audio[p.index] for p in self._in_ports]
        outs = [self._audio[p.index] for p in self._out_ports]
        capacity = [(w, np.uint32(w.nbytes - 8)) for w in self._atom_out]
        chunk = np.uint32(self._chunk)
        for start in range(0, x.size, self.block_size):
            n = min(self.block_size, x.size - start)
            for buf in ins:
                buf[:n] = x[start:start + n]
                if n < self.block_size:
                    buf[n:] = 0.0
            for words, cap in capacity:
                words[0], words[1] = cap, chunk
            self._run(self._handle, self.block_size)
            if self._worker is not None or self._features.requests:
                self._work()
            mean_of_outputs(y[start:start + n], outs)
        return y

    def close(self) -> None:
        """deactivate + free (once); the instance cannot process afterwards."""
        if self._instance is None:
            return
        try:
            if self._activated:
                d = self._desc.lv2_descriptor.contents
                if d.deactivate:
                    d.deactivate(self._handle)
        finally:
            self._world.free_instance(self._instance)  # calls the plugin's cleanup
            self._instance = None
            self._features.release()

