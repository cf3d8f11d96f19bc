"""Batching for EffectsDataset items: stack fixed-size fields, pad tokens and uneven audio with masks."""

from __future__ import annotations

from typing import Any, Sequence

import torch

from ddspfx.vocab import PedalVocab

_PAD_ID = PedalVocab().pad_id


def _pad_stack(seqs: Sequence[torch.Tensor], value: float | int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, L_max) right-padded with ``value`` and a (B, L_max) bool mask of real entries."""
    length = max((s.shape[-1] for s in seqs), default=0)
    out = torch.full((len(seqs), length), value, dtype=seqs[0].dtype)
    mask = torch.zeros(len(seqs), length, dtype=torch.bool)
    for b, s in enumerate(seqs):
        out[b, : s.shape[-1]] = s
        mask[b, : s.shape[-1]] = True
    return out, mask


def collate(batch: Sequence[dict[str, Any]], pad_id: int = _PAD_ID) -> dict[str, Any]:
    """List of items -> batch dict: tensors stacked to (B, ...), "tokens" padded with ``pad_id`` plus
    "token_mask" (B, L); "dry"/"wet" padded with zeros plus "audio_mask" (B, T) when lengths differ;
    "chain" stays a list of JSON strings."""
    if not batch:
        raise ValueError("cannot collate an empty batch")
    out: dict[str, Any] = {}
    out["tokens"], out["token_mask"] = _pad_stack([b["tokens"] for b in batch], pad_id)
    if "token_supervised" in batch[0]:  # bin tokens with no label (plugin knobs): not a CE target
        out["token_supervised"], _ = _pad_stack([b["token_supervised"] for b in batch], False)
    lengths = {b["dry"].shape[-1] for b in batch} | {b["wet"].shape[-1] for b in batch}
    if len(lengths) == 1:
        out["dry"] = torch.stack([b["dry"] for b in batch])
        out["wet"] = torch.stack([b["wet"] for b in batch])
    else:
        out["dry"], dmask = _pad_stack([b["dry"] for b in batch], 0.0)
        out["wet"], wmask = _pad_stack([b["wet"] for b in batch], 0.0)
        out["audio_mask"] = dmask & wmask
    for key in batch[0]:
        if key in out or key in ("dry", "wet", "tokens", "token_supervised"):
            continue
        values = [b[key] for b in batch]
        out[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) else list(values)
    return out
