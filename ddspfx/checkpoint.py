"""Exported models: safetensors weights + a JSON sidecar; safe to load (no pickles).

``save_model(model, "dir/name.safetensors", ...)`` writes ``name.safetensors``,
``name.json`` and a Markdown model card ``name_card.md`` atomically. The sidecar holds the model config (including the front end),
the vocabulary size and fingerprint, the weights' SHA-256, a description of the training
data, metrics, free-form notes and the per-pedal presence thresholds (``ddspfx.calibrate``). ``load_model(path=None)`` loads the shipped default
(``ddspfx/checkpoints/default.safetensors`` + ``default.json``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ddspfx.catalog import CLASSIC_EFFECTS
from ddspfx.config import model_config_from_dict
from ddspfx.errors import DdspfxError
from ddspfx.fileio import atomic_path, atomic_write_text, file_sha256
from ddspfx.model import DdspfxModel

FORMAT = "ddspfx-model"
FORMAT_VERSION = 1
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "default.safetensors"
DEFAULT_DRY_CHECKPOINT = DEFAULT_CHECKPOINT.with_name("default_dry.safetensors")
"""The shipped dry-aware model (``frontend.paired``), used by ``infer --dry`` when present."""


def vocab_fingerprint(vocab) -> str:
    """SHA-1 of the token list: two vocabularies with the same ids for the same tokens match."""
    return hashlib.sha1("\n".join(vocab.token(i) for i in range(len(vocab))).encode()).hexdigest()[:16]


def sidecar_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def read_weights(path: Path, name: str, remedy: str) -> dict[str, torch.Tensor]:
    """A safetensors file's tensors on CPU; a one-line DdspfxError ("<name> is corrupt ...; <remedy>") if unreadable."""
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise DdspfxError(f"{name} is corrupt ({str(exc).splitlines()[0][:80]}); {remedy}") from None


def fill_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], name: str, kind: str, remedy: str) -> None:
    """Load ``state`` into ``model``; a one-line DdspfxError naming the first key that does not fit."""
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # a tensor whose shape differs: the sidecar describes another architecture
        first = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line), str(exc).splitlines()[0])
        raise DdspfxError(f"{name} does not fit the {kind} its sidecar describes ({first.rstrip('.')}); {remedy}") from None
    if result.missing_keys or result.unexpected_keys:
        what = (result.missing_keys or result.unexpected_keys)[0]
        raise DdspfxError(f"{name} does not fit the {kind} its sidecar describes (e.g. {what}); {remedy}")


def save_model(model, path: str | Path, *, data: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None,
               notes: dict[str, Any] | None = None, calibration: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write ``path`` (.safetensors) and its ``.json`` sidecar atomically; returns both paths."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise DdspfxError(f"model files end in .safetensors, got {path.name}")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION)})
        digest = file_sha256(tmp)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "weights": path.name,
        "sha256": digest,
        "model": dataclasses.asdict(model.config),
        "frontend": model.frontend.config(),
        "clip_seconds": model.clip_seconds,
        "sample_rate": model.sample_rate,
        "vocab": {"size": len(model.vocab), "fingerprint": vocab_fingerprint(model.vocab),
                  "max_effects": model.vocab.max_effects},
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "presence_thresholds": dict(zip(model.effects, (round(float(t), 4) for t in model.presence_thresholds))),
        "data": data or {},
        "metrics": metrics or {},
        "notes": notes or {},
        **({"calibration": calibration} if calibration else {}),
    }
    return path, write_sidecar(path, meta)


def write_sidecar(path: Path, meta: dict[str, Any]) -> Path:
    """The ``.json`` sidecar and the model card of weights ``path``, each written atomically."""
    side = sidecar_path(path)
    atomic_write_text(side, json.dumps(meta, indent=2, sort_keys=False, default=str) + "\n")
    atomic_write_text(path.with_name(path.stem + "_card.md"), model_card(meta))
    return side


def update_sidecar(path: str | Path, **updates: Any) -> Path:
    """Replace top-level keys of an exported model's sidecar (the weights and their hash stay as they are)."""
    path = Path(path)
    meta = read_sidecar(path)
    meta.update(updates)
    try:
        return write_sidecar(path, meta)
    except OSError as exc:
        raise DdspfxError(f"cannot rewrite {sidecar_path(path)} ({exc.strerror}); copy the model somewhere writable") from None


def model_card(meta: dict[str, Any]) -> str:
    """A short Markdown model card from a sidecar: what the model is, its data, metrics, how to reproduce."""
    m, fe, data, metrics = meta["model"], meta["frontend"], meta.get("data", {}), meta.get("metrics", {})
    cal = meta.get("calibration") or {}
    stem = (f", CNN stem {fe['conv_channels']}-{8 * fe['conv_channels']} channels, time pool {fe.get('conv_time_pool', '?')}"
            if fe.get("conv_channels") else "")
    effect_set = m.get("effect_set", "decoder")
    order = ("every order of those effects is scored by the token decoder and the switching-matrix head "
             f"(slot weight {m.get('order_slot_weight', 1.0):g})" if m.get("order_search", "exhaustive") == "exhaustive"
             else "the token beam search orders them")
    lines = [
        f"# ddspfx model `{meta['weights']}`", "",
        f"Transformer encoder ({m['enc_layers']} layers, d_model {m['d_model']}) over a `{fe['name']}` front end "
        f"({fe.get('n_mels', '?')} bands, hop {fe.get('hop', '?')}{stem}, stack {fe.get('stack', '?')}) at "
        f"{meta['sample_rate']} Hz; pedal-token decoder ({m['dec_layers']} layers, vocabulary {meta['vocab']['size']} "
        f"tokens, at most {meta['vocab']['max_effects']} effects); presence, parameter and switching-matrix heads. "
        f"{meta['parameters'] / 1e6:.2f} M parameters, {meta['clip_seconds']} s analysis windows. At inference the "
        + ("presence head picks the effects" if effect_set == "presence" else "token search picks the effects")
        + f", {order}; the parameter head sets the values.", "",
        "## Training data", "",
        *[f"- {k}: {v}" for k, v in data.items()], "",
        "## Metrics at the end of training (validation split)", "",
        *[f"- {k}: {v:.4g}" if isinstance(v, float) else f"- {k}: {v}" for k, v in sorted(metrics.items())
          if k.startswith("val/") or k == "global_step"], "",
        "## Reproduce", "",
        *(f"    {line}" for line in str(meta.get("notes", {}).get("reproduce", "python -m ddspfx.train")).splitlines()), "",
        *([f"Trained on: {str(meta['notes']['trained_on']).rstrip('.')}.", ""] if meta.get("notes", {}).get("trained_on") else []),
        *(["## Presence thresholds", "", f"Per pedal, chosen for {cal.get('objective', 'f1')} on "
           f"{cal.get('clips', '?')} validation clips ({cal.get('source', 'synth')}): "
           + ", ".join(f"{k} {v:.2f}" for k, v in meta["presence_thresholds"].items()) + ".", ""]
          if cal else []),
        f"Weights SHA-256: `{meta['sha256']}`. Load with `ddspfx.checkpoint.load_model(path)` (safetensors, no pickles).", "",
    ]
    return "\n".join(lines)


def read_sidecar(path: str | Path) -> dict[str, Any]:
    side = sidecar_path(path)
    if not side.is_file():
        raise DdspfxError(f"checkpoint sidecar {side} not found; a model needs both {Path(path).name} and {side.name}")
    try:
        meta = json.loads(side.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DdspfxError(f"checkpoint sidecar {side} is not valid JSON ({exc.__class__.__name__}); re-export the model") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DdspfxError(f"{side} is not a ddspfx model sidecar (format {FORMAT!r} expected)")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise DdspfxError(f"{side} has format version {meta.get('format_version')}; this ddspfx reads up to {FORMAT_VERSION}, upgrade ddspfx")
    return meta


def load_model(path: str | Path | None = None, device: str | torch.device = "cpu"):
    """Load an exported model (``None`` = the shipped default) in eval mode; one-line DdspfxError on problems."""
    path = DEFAULT_CHECKPOINT if path is None else Path(path)
    if path.is_dir():
        path = path / "model.safetensors"
    if path.suffix == ".json":
        path = path.with_suffix(".safetensors")
    if not path.is_file():
        hint = "train one with python -m ddspfx.train" if path == DEFAULT_CHECKPOINT else "check the path"
        raise DdspfxError(f"checkpoint {path} not found; {hint}")
    meta = read_sidecar(path)
    if meta.get("sha256") and meta["sha256"] != file_sha256(path):
        raise DdspfxError(f"checkpoint {path} does not match its sidecar (SHA-256 differs): corrupt or mixed files; re-export it")
    state = read_weights(path, f"checkpoint {path}", "re-download or re-export it")
    try:
        # keys added since a checkpoint was written take the behaviour of the version that wrote it
        config = model_config_from_dict({"effect_set": "decoder", "effects": ",".join(CLASSIC_EFFECTS), **meta["model"]})
    except (DdspfxError, KeyError, TypeError) as exc:
        raise DdspfxError(f"checkpoint {path}: model config unreadable ({exc}); it was made by another ddspfx version") from None
    fe_meta = meta.get("frontend", {})
    if config.frontend.name == "dac" and fe_meta.get("weights_sha256"):
        # the codec is not in the safetensors file: insist on the weights the model was trained with
        config.frontend.dac_weights_sha256 = str(fe_meta["weights_sha256"])
    model = DdspfxModel(config, clip_seconds=float(meta.get("clip_seconds", 2.0)))
    vocab = meta.get("vocab", {})
    if vocab.get("size") != len(model.vocab) or vocab.get("fingerprint") != vocab_fingerprint(model.vocab):
        raise DdspfxError(
            f"checkpoint {path} was trained with a different pedal vocabulary ({vocab.get('size')} tokens, this ddspfx has "
            f"{len(model.vocab)}); retrain or use a matching ddspfx version"
        )
    fill_weights(model, state, f"checkpoint {path}", "model", "re-export it")
    thresholds = meta.get("presence_thresholds") or {}  # absent before calibration existed: 0.5 for all
    model.presence_thresholds = torch.tensor([float(thresholds.get(n, 0.5)) for n in model.effects])
    model.metadata = meta
    model.checkpoint_path = path
    return model.to(device).eval()


def git_commit(folder: str | Path | None = None) -> str:
    """The commit of the checkout ddspfx runs from (``-dirty`` with uncommitted changes); ``unknown`` outside git."""
    where = Path(folder) if folder is not None else Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("-dirty" if dirty else "")


def provenance(model: Any) -> dict[str, str]:
    """What a results table must record about the model it scored: file, weights SHA-256, training source,
    and the git commit of the code that scored it."""
    path = Path(getattr(model, "checkpoint_path", DEFAULT_CHECKPOINT))
    meta = getattr(model, "metadata", {}) or {}
    return {"checkpoint": str(path), "sha256": str(meta.get("sha256") or file_sha256(path)),
            "trained_on": str(meta.get("data", {}).get("source", "?")), "git_commit": git_commit()}
