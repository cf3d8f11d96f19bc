"""The DAC front end: a frozen Descript Audio Codec turns audio into codes (or latents) per frame.

DAC (Kumar et al. 2023, "High-Fidelity Audio Compression with Improved RVQGAN") encodes 44.1 kHz
audio at a 512-sample hop (86 frames/s) into ``n_q`` residual-VQ codebooks of 1024 entries. The
codec is frozen and kept *outside* the module tree (not in ``state_dict``, not moved by ``.to``,
never put in train mode), so checkpoints hold only the small embedding; the codec's weights are
identified by their sha256 in ``config()`` instead.

Codes become tokens by one ``nn.Embedding`` per codebook, summed (``combine="sum"``) or
concatenated and projected (``"concat"``); ``use_latents=True`` uses DAC's continuous quantised
latent ``z`` with a linear projection instead. Precomputed codes (``ddspfx.frontends.dac_cache``)
go through :meth:`DACFrontEnd.forward_codes`, so training need not run the codec every epoch.

Needs the optional extra: ``pip install 'ddspfx[dac]'``.
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.parse
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator, Protocol

import numpy as np
import torch
from einops import rearrange
from torch import nn

from ddspfx import fileio
from ddspfx.audio import resample
from ddspfx.catalog import SAMPLE_RATE
from ddspfx.errors import DdspfxError
from ddspfx.frontends.base import FrontEnd

MODEL_TYPES: tuple[str, ...] = ("44khz", "24khz", "16khz")
COMBINE_MODES: tuple[str, ...] = ("sum", "concat")
# Keys of the mel front end's config that ``build`` receives from a shared FrontEndConfig and ignores.
MEL_ONLY_KEYS: frozenset[str] = frozenset({"n_fft", "hop", "n_mels", "f_min", "f_max", "stack", "conv_channels",
                                               "conv_time_pool", "paired"})
DOWNLOAD_HOST = ("github.com", 443)  # DAC's weights are GitHub release assets
PROBE_TIMEOUT_S = 5.0  # how long the offline check may take before we call the network unreachable


def import_dac() -> ModuleType:
    """``import dac``, or a one-line DdspfxError saying how to install it."""
    try:
        import dac.utils  # optional extra [dac]; binds ``dac`` too
    except ImportError as exc:
        raise DdspfxError(
            f"the dac front end needs descript-audio-codec ({exc}); install it with: pip install 'ddspfx[dac]'"
        ) from None
    return dac


_HASHES: dict[tuple[str, int, int], str] = {}


def memoised_sha256(path: str | os.PathLike[str]) -> str:
    """``fileio.file_sha256``, memoised on path, size and mtime: weights files are 300 MB and hashed per front end."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = fileio.file_sha256(p)
    return _HASHES[key]


def check_model_type(model_type: str) -> str:
    if model_type not in MODEL_TYPES:
        raise DdspfxError(f"unknown DAC model type {model_type!r}; choose one of: {', '.join(MODEL_TYPES)}")
    return model_type


def cached_weights_path(model_type: str = "44khz") -> Path:
    """Where DAC's own downloader keeps the latest weights of ``model_type`` (~/.cache/descript/dac/...)."""
    dac = import_dac()
    tag = dac.utils.__MODEL_LATEST_TAGS__[(check_model_type(model_type), "8kbps")]
    return Path.home() / ".cache" / "descript" / "dac" / f"weights_{model_type}_8kbps_{tag}.pth"


def _download_endpoint() -> tuple[str, int]:
    """The host:port a download connects to first: the HTTPS proxy if one is configured."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    if proxy:
        u = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if u.hostname:
            return u.hostname, u.port or 80
    return DOWNLOAD_HOST


def network_reachable(host: str, port: int, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """True if a TCP connection to host:port opens within ``timeout_s`` (DNS included: run in a daemon thread)."""
    ok: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                ok.append(True)
        except OSError:
            ok.append(False)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout_s)
    return bool(ok and ok[0])


def _how_to_get(model_type: str) -> str:
    return (f"get them with `python -m dac download --model_type {model_type}` on a machine with internet "
            f"(copy ~/.cache/descript/dac/ here) or pass --dac-weights PATH")


def resolve_weights(weights_path: str | os.PathLike[str] | None = None, model_type: str = "44khz") -> Path:
    """The weights file to load: ``weights_path``, else DAC's cache, else DAC's downloader (if online)."""
    check_model_type(model_type)
    if weights_path:
        p = Path(weights_path).expanduser()
        if not p.is_file():
            raise DdspfxError(f"DAC weights file not found: {p}; {_how_to_get(model_type)}")
        return p
    cached = cached_weights_path(model_type)
    if cached.is_file():
        return cached
    if not network_reachable(*_download_endpoint()):
        raise DdspfxError(f"DAC {model_type} weights are not in {cached.parent} and the network is unreachable; "
                          f"{_how_to_get(model_type)}")
    dac = import_dac()
    try:
        path = Path(dac.utils.download(model_type=model_type, model_bitrate="8kbps", tag="latest"))
    except Exception as exc:  # requests/HTTP/OS errors from DAC's downloader
        raise DdspfxError(f"downloading DAC {model_type} weights failed ({type(exc).__name__}: {exc}); "
                          f"{_how_to_get(model_type)}") from None
    if not path.is_file():
        raise DdspfxError(f"DAC's downloader returned no weights file for {model_type}; {_how_to_get(model_type)}")
    return path


class DACCodec(Protocol):
    """What ddspfx uses of a ``dac.DAC`` model (an ``nn.Module``; the dac package ships no type information)."""

    sample_rate: int
    hop_length: int
    codebook_size: int
    n_codebooks: int
    latent_dim: int
    quantizer: Any  # dac's ResidualVectorQuantize: ``from_codes(codes) -> (z, ...)``

    def encode(self, audio_data: torch.Tensor, n_quantizers: int | None = None) -> tuple[Any, ...]: ...
    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...
    def to(self, *args: Any, **kwargs: Any) -> Any: ...
    def eval(self) -> Any: ...
    def requires_grad_(self, requires_grad: bool = True) -> Any: ...


def load_codec(path: str | os.PathLike[str]) -> DACCodec:
    """A frozen DAC (eval mode, no grad) from a weights file saved by ``DAC.save`` (pretrained or not)."""
    dac = import_dac()
    try:
        codec = dac.utils.load_model(load_path=str(path))
    except Exception as exc:  # unpickling/shape errors: a file that is not DAC weights
        raise DdspfxError(f"cannot load DAC weights from {path} ({type(exc).__name__}: {exc}); "
                          f"pass a file saved by DAC (e.g. from `python -m dac download`)") from None
    codec.eval()
    codec.requires_grad_(False)
    return codec


def codec_rate(codec: DACCodec) -> int:
    return int(codec.sample_rate)


def to_codec_rate(audio: torch.Tensor, sample_rate: int, codec_sample_rate: int) -> torch.Tensor:
    """(B, T) at ``sample_rate`` -> (B, T') at the codec's rate, T' = round(T * sr_out / sr_in) (soxr HQ).

    Resampling runs on the CPU (soxr): the codec is frozen, so no gradient needs to pass.
    """
    if int(sample_rate) == int(codec_sample_rate):
        return audio
    y = resample(audio.detach().float().cpu().numpy(), int(sample_rate), int(codec_sample_rate))  # (B, T')
    return torch.from_numpy(np.ascontiguousarray(y)).to(audio.device)


def resampled_length(num_samples: int, sample_rate: int, codec_sample_rate: int) -> int:
    """Samples after :func:`to_codec_rate` (soxr's output length)."""
    if int(sample_rate) == int(codec_sample_rate):
        return int(num_samples)
    return int(round(num_samples * codec_sample_rate / sample_rate))


def encode_codes(codec: DACCodec, audio: torch.Tensor, n_quantizers: int | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """audio (B, T) at the codec's rate -> (codes (B, n_q, F) int64, z (B, latent_dim, F) float32).

    The clip is zero-padded to a multiple of the hop (as ``DAC.preprocess``), so F = ceil(T / hop).
    ``z`` is the quantised latent from the first ``n_quantizers`` codebooks (all if None).
    """
    hop = int(codec.hop_length)
    x = rearrange(audio.float(), "b t -> b 1 t")
    pad = (-x.shape[-1]) % hop
    if pad:
        x = nn.functional.pad(x, (0, pad))
    with torch.no_grad(), torch.autocast(device_type=x.device.type, enabled=False):
        z, codes, *_ = codec.encode(x, n_quantizers)
    return codes, z


class DACFrontEnd(FrontEnd):
    """``audio (B, T) at sample_rate -> (tokens (B, F, dim), mask (B, F))`` through a frozen DAC.

    ``n_codebooks`` (None = all of the codec's) codebooks are embedded; F = ceil(T' / hop) with T'
    the length at the codec's rate. ``weights_sha256``, when given (a rebuilt checkpoint), must
    match the weights found, so a model never runs on codes from other weights.
    """

    name = "dac"
    _codec: DACCodec  # set with object.__setattr__ in __init__, see there

    def __init__(
        self,
        dim: int = 128,
        sample_rate: int = SAMPLE_RATE,
        model_type: str = "44khz",
        weights_path: str | None = None,
        n_codebooks: int | None = None,
        combine: str = "sum",
        use_latents: bool = False,
        weights_sha256: str | None = None,
    ) -> None:
        super().__init__()
        if combine not in COMBINE_MODES:
            raise DdspfxError(f"unknown combine mode {combine!r}; choose one of: {', '.join(COMBINE_MODES)}")
        self.dim, self.sample_rate = int(dim), int(sample_rate)
        self.model_type, self.combine, self.use_latents = check_model_type(model_type), combine, bool(use_latents)
        path = resolve_weights(weights_path, model_type)
        self.weights_path = str(path) if weights_path else None  # None: DAC's cache resolves it again
        self.weights_sha256 = memoised_sha256(path)
        if weights_sha256 and weights_sha256 != self.weights_sha256:
            raise DdspfxError(
                f"DAC weights {path} (sha256 {self.weights_sha256[:16]}) are not the ones this model was built "
                f"with (sha256 {weights_sha256[:16]}); pass those weights with --dac-weights PATH")
        codec = load_codec(path)
        object.__setattr__(self, "_codec", codec)  # not a submodule: stays out of state_dict/.train()/.to()
        self.codec_sample_rate = codec_rate(codec)
        self.hop_length = int(codec.hop_length)
        self.codebook_size = int(codec.codebook_size)
        self.total_codebooks = int(codec.n_codebooks)
        self.latent_dim = int(codec.latent_dim)
        n_q = self.total_codebooks if n_codebooks is None else int(n_codebooks)
        if not 1 <= n_q <= self.total_codebooks:
            raise DdspfxError(f"n_codebooks must be between 1 and {self.total_codebooks} for this DAC, got {n_q}")
        self.n_codebooks = n_q
        d = self.dim
        if self.use_latents:
            self.embed = nn.ModuleList()
            self.proj: nn.Module = nn.Sequential(nn.LayerNorm(self.latent_dim), nn.Linear(self.latent_dim, d))
        elif combine == "sum":
            embeddings = [nn.Embedding(self.codebook_size, d) for _ in range(n_q)]
            for e in embeddings:
                nn.init.normal_(e.weight, std=n_q ** -0.5)  # the sum starts at unit scale
            self.embed = nn.ModuleList(embeddings)
            self.proj = nn.LayerNorm(d)
        else:
            self.code_dim = max(16, -(-d // n_q))  # per-codebook width before the projection
            self.embed = nn.ModuleList(nn.Embedding(self.codebook_size, self.code_dim) for _ in range(n_q))
            self.proj = nn.Sequential(nn.Linear(n_q * self.code_dim, d), nn.LayerNorm(d))

    @property
    def codec(self) -> DACCodec:
        """The frozen DAC, moved lazily to wherever the embedding lives."""
        return self._codec

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name, "dim": self.dim, "sample_rate": self.sample_rate, "model_type": self.model_type,
            "weights_path": self.weights_path, "n_codebooks": self.n_codebooks, "combine": self.combine,
            "use_latents": self.use_latents, "weights_sha256": self.weights_sha256,
        }

    def frames_for(self, num_samples: int) -> int:
        n = resampled_length(num_samples, self.sample_rate, self.codec_sample_rate)
        return -(-n // self.hop_length)

    def _mask(self, lengths: torch.Tensor | None, b: int, f: int, device: torch.device) -> torch.Tensor:
        if lengths is None:
            return torch.ones(b, f, dtype=torch.bool, device=device)
        n = lengths.to(device=device, dtype=torch.float64) * (self.codec_sample_rate / self.sample_rate)
        valid = torch.ceil(torch.round(n) / self.hop_length)
        return torch.arange(f, device=device)[None, :] < valid[:, None]

    def encode(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """audio (B, T) at ``sample_rate`` -> (codes (B, n_q, F) int64, z (B, latent_dim, F)), frozen codec."""
        device = audio.device
        if next(self.codec.parameters()).device != device:
            self.codec.to(device)
        x = to_codec_rate(audio, self.sample_rate, self.codec_sample_rate)
        return encode_codes(self.codec, x, self.n_codebooks)

    def embed_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, >= n_q, F) integer -> tokens (B, F, dim); extra codebooks are ignored."""
        codes = codes[:, : self.n_codebooks].long()
        if self.combine == "sum":
            x = sum(e(codes[:, q]) for q, e in enumerate(self.embed))  # (B, F, D)
        else:
            x = torch.cat([e(codes[:, q]) for q, e in enumerate(self.embed)], dim=-1)  # (B, F, n_q * code_dim)
        return self.proj(x)

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        codes, z = self.encode(audio)
        if self.use_latents:
            tokens = self.proj(rearrange(z, "b d f -> b f d"))  # (B, F, D)
        else:
            tokens = self.embed_codes(codes)
        b, f, _ = tokens.shape
        return tokens, self._mask(lengths, b, f, audio.device)

    def forward_codes(self, codes: torch.Tensor, mask: torch.Tensor | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Precomputed codes (B, n_q', F) (e.g. from the cache) -> (tokens (B, F, dim), mask (B, F)).

        Latent mode rebuilds ``z`` from the codes with the codec's own quantizer, so it needs no audio.
        """
        if self.use_latents:
            qz = self.codec.quantizer
            if next(qz.parameters()).device != codes.device:
                self.codec.to(codes.device)
            with torch.no_grad():
                z = qz.from_codes(codes[:, : self.n_codebooks].long())[0]  # (B, latent_dim, F)
            tokens = self.proj(rearrange(z, "b d f -> b f d"))
        else:
            tokens = self.embed_codes(codes)
        b, f, _ = tokens.shape
        if mask is None:
            mask = torch.ones(b, f, dtype=torch.bool, device=codes.device)
        return tokens, mask.bool()


# FrontEndConfig spellings (one flat config shared with the mel front end) -> DACFrontEnd arguments
CONFIG_ALIASES: dict[str, str] = {
    "dac_weights": "weights_path", "dac_model_type": "model_type", "dac_n_codebooks": "n_codebooks",
    "dac_combine": "combine", "dac_latents": "use_latents", "dac_weights_sha256": "weights_sha256",
}


def build(**cfg: Any) -> DACFrontEnd:
    """``build_frontend("dac", **cfg)``: a DACFrontEnd from its ``config()`` or ``dac_*`` config keys.

    Mel-only keys are ignored; empty strings and ``n_codebooks=0`` mean "default" (the codec's own).
    """
    if cfg.get("paired"):
        raise DdspfxError("the dac front end does not take the dry (frontend.paired); use the mel front end for a "
                          "dry-aware model")
    args: dict[str, Any] = {}
    for k, v in cfg.items():
        if k == "name" or k in MEL_ONLY_KEYS:
            continue
        args[CONFIG_ALIASES.get(k, k)] = v
    for k in ("weights_path", "weights_sha256"):
        if k in args and not args[k]:
            args[k] = None
    if args.get("n_codebooks") == 0:
        args["n_codebooks"] = None
    code = DACFrontEnd.__init__.__code__
    allowed = set(code.co_varnames[1:code.co_argcount])
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise DdspfxError(f"unknown dac front-end option(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    return DACFrontEnd(**args)
