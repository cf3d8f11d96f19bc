"""DdspfxModel: front end -> encoder -> (token decoder, continuous heads); ``predict`` for inference.

Reconciling the two views at inference: the grammar-constrained beam search over tokens fixes
*which* effects are present (or, with ``effect_set="presence"``, the presence head fixes the set
and the search may only open those effects) and their *order*; the search also picks a bin per knob
(kept in ``Prediction.ids``). The reported *values* come from the continuous parameter head:
it is trained with L1, so it estimates each knob's median, which is what the absolute parameter
error rewards, while the beam's bin is a mode and scores worse where the posterior is broad.
Measured (300 held-out clips, dev seeds, the first CNN-stem model): values clamped to the decoded
bin +- half a bin 0.233 mean normalised error, +- 3 bins 0.208, head alone 0.200 (and a closer
pedalboard re-render, MR-STFT 1.58 -> 1.47). Presence gates are
reported as ``effect_confidence``. The *order* is then chosen among all orders of the found
effects (``order_search="exhaustive"``) by the decoder's choice-token probabilities plus the
switching-matrix head's soft permutation, two estimates of the same thing trained by different
losses (token CE; permutation NLL + the proxy chain's MR-STFT); see ``search.order_search``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ddspfx.catalog import SAMPLE_RATE, bin_distribution_median, denormalise_params, get_effect, resolve_effects
from ddspfx.chain import Chain, Pedal
from ddspfx.config import EFFECT_SET_MODES, KNOB_READOUTS, ORDER_SEARCH_MODES, ModelConfig
from ddspfx.errors import DdspfxError
from ddspfx.frontends import FrontEnd, build_frontend
from ddspfx.model.decoder import TokenDecoder
from ddspfx.model.encoder import Encoder
from ddspfx.model.heads import QueryHeads
from ddspfx.model.search import Hypothesis, beam_search, order_search
from ddspfx.model.sinkhorn import sinkhorn
from ddspfx.sources import TARGET_DBFS
from ddspfx.vocab import PedalVocab


def normalise_level(audio: torch.Tensor, lengths: torch.Tensor | None = None,
                    target_dbfs: float = TARGET_DBFS) -> torch.Tensor:
    """(B, T) -> (B, T) with each clip's RMS over its first ``lengths`` samples at ``target_dbfs``.

    Why: a recording's level is arbitrary, so the model must not hear it; the knobs stay defined for a
    dry guitar at ``TARGET_DBFS`` RMS (the sources' level). Clips quieter than -100 dBFS are left as they are
    (nothing to hear; no gain blows up silence).
    """
    x = audio.float()
    if lengths is None:
        power = x.square().mean(-1)
    else:
        valid = torch.arange(x.shape[-1], device=x.device)[None, :] < lengths.to(x.device)[:, None]
        power = (x.square() * valid).sum(-1) / valid.sum(-1).clamp_min(1)
    rms = power.sqrt()
    gain = torch.where(rms > 1e-5, 10.0 ** (target_dbfs / 20.0) / rms.clamp_min(1e-5), torch.ones_like(rms))
    return (x * gain[:, None]).to(audio.dtype)


@dataclass
class Prediction:
    """One clip's estimate: the decoded chain, per-effect presence probabilities and beam alternatives."""

    chain: Chain
    effect_confidence: dict[str, float]
    alternatives: list[tuple[Chain, float]] = field(default_factory=list)  # other orders, log-probabilities
    log_prob: float = 0.0  # log P(order | effect set) (exhaustive order search) or the beam's sequence log-prob
    ids: list[int] = field(default_factory=list)  # the decoded token ids


class DdspfxModel(nn.Module):
    """``forward(batch)`` (teacher forcing) for training; ``predict(audio (B, T))`` for inference."""

    metadata: dict[str, Any]  # the sidecar; set by ddspfx.checkpoint.load_model (absent on a fresh model)
    checkpoint_path: Path  # the weights file; set by ddspfx.checkpoint.load_model (absent on a fresh model)

    def __init__(self, config: ModelConfig | None = None, clip_seconds: float = 2.0) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        c = self.config
        self.clip_seconds = float(clip_seconds)
        self.effects: tuple[str, ...] = resolve_effects(c.effects)  # head n is effects[n]
        c.effects = ",".join(self.effects)  # recorded explicitly, so a saved model keeps its list as the catalog grows
        self.vocab = PedalVocab(self.effects, max_effects=c.max_effects)
        if c.effect_set not in EFFECT_SET_MODES:
            raise DdspfxError(f"model.effect_set must be one of {', '.join(EFFECT_SET_MODES)}, got {c.effect_set!r}")
        if c.knob_readout not in KNOB_READOUTS:
            raise DdspfxError(f"model.knob_readout must be one of {', '.join(KNOB_READOUTS)}, got {c.knob_readout!r}")
        if c.order_search not in ORDER_SEARCH_MODES:
            raise DdspfxError(f"model.order_search must be one of {', '.join(ORDER_SEARCH_MODES)}, got {c.order_search!r}")
        if self.vocab.max_length() > c.max_tokens:
            raise ValueError(f"max_tokens {c.max_tokens} < longest chain {self.vocab.max_length()} tokens")
        fe = dataclasses.asdict(c.frontend)
        self.frontend: FrontEnd = build_frontend(fe.pop("name"), dim=c.d_model, **fe)
        self.sample_rate = int(getattr(self.frontend, "sample_rate", SAMPLE_RATE))
        self.encoder = Encoder(c.d_model, c.n_heads, c.enc_layers, c.ff_mult, c.dropout, c.max_frames)
        self.decoder = TokenDecoder(len(self.vocab), c.d_model, c.n_heads, c.dec_layers, c.ff_mult, c.dropout,
                                    c.max_tokens)
        self.heads = QueryHeads(c.d_model, c.n_heads, c.head_layers, c.ff_mult, c.dropout, n_effects=len(self.effects))
        # per-pedal presence thresholds (N,); ddspfx.calibrate sets them, the sidecar stores them
        self.presence_thresholds = torch.full((len(self.effects),), 0.5)
        self._bin_id_table: dict[str, list[torch.Tensor]] = {}  # effect -> its knobs' bin ids (see _bin_ids)

    # --- training ------------------------------------------------------------------------

    @property
    def hears_dry(self) -> bool:
        """A dry-aware model (``frontend.paired``): every call needs the clip's dry beside it."""
        return bool(getattr(self.frontend, "paired", False))

    def encode(self, audio: torch.Tensor, lengths: torch.Tensor | None = None,
               codes: torch.Tensor | None = None, dry: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """audio (B, T) -> memory (B, F, D), mask (B, F) True = valid.

        ``codes`` (B, n_q, F): DAC codes precomputed by ``python -m ddspfx.data encode``; used instead
        of running the codec on ``audio`` when the front end takes them (the codec is the costly part).
        ``dry`` (B, T): the clip's dry, for a dry-aware model (each track levelled on its own).
        """
        forward_codes = getattr(self.frontend, "forward_codes", None)  # front ends that take codes (DAC)
        if codes is not None and forward_codes is not None:
            tokens, mask = forward_codes(codes)
        else:
            if self.config.input_level:
                audio = normalise_level(audio, lengths)
                dry = None if dry is None else normalise_level(dry, lengths)
            tokens, mask = self.frontend(audio, lengths, dry=dry) if self.hears_dry else self.frontend(audio, lengths)
        return self.encoder(tokens, mask), mask

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Teacher forcing on ``batch["tokens"]`` (B, L); returns logits for tokens[:, 1:] and head outputs."""
        lengths = batch["audio_mask"].sum(-1) if "audio_mask" in batch else None
        memory, mask = self.encode(batch["wet"], lengths, codes=batch.get("dac_codes"),
                                   dry=batch["dry"] if self.hears_dry else None)
        out = self.heads(memory, mask)
        out["token_logits"] = self.decoder(batch["tokens"][:, :-1], memory, mask)  # (B, L-1, V)
        out["memory"], out["memory_mask"] = memory, mask  # (B, F, D): the guitar-identity adversary pools it
        return out

    # --- inference -----------------------------------------------------------------------

    def presence_sets(self, presence_logits: torch.Tensor, threshold: float | None = None) -> list[frozenset[str]]:
        """(B, N) logits -> per clip the effects whose gate exceeds its threshold (the most probable max_effects).

        ``threshold`` None: the per-pedal ``presence_thresholds`` (0.5 until calibrated, see ddspfx.calibrate).
        """
        probs = torch.sigmoid(presence_logits.float()).cpu()
        th = self.presence_thresholds if threshold is None else torch.full((probs.shape[1],), float(threshold))
        sets = []
        for row in probs:
            ranked = [n for n in row.argsort(descending=True).tolist() if float(row[n]) > float(th[n])]
            sets.append(frozenset(self.effects[n] for n in ranked[: self.config.max_effects]))
        return sets

    @torch.no_grad()
    def decode(self, audio: torch.Tensor, beam: int = 4, lengths: torch.Tensor | None = None,
               codes: torch.Tensor | None = None, effect_set: str | None = None, order: str | None = None,
               dry: torch.Tensor | None = None) -> tuple[list[list[Hypothesis]], dict[str, torch.Tensor]]:
        """Constrained search; the greedy hypothesis is merged into the beam so beam >= greedy always.

        ``effect_set`` (default: the model config's): "decoder" lets the token search choose the effects;
        "presence" fixes them to the presence head's set and searches only order and bins.
        ``order`` (default: the config's ``order_search``): "exhaustive" then re-orders the best
        hypothesis' pedals by :func:`~ddspfx.model.search.order_search`, and the hypotheses become the
        orders of that effect set, best first, scored log P(order | set); "beam" keeps the beam as it is.
        """
        hyps, heads, _ = self._decode(audio, beam, lengths, codes, effect_set, order, dry)
        return hyps, heads

    def _decode(self, audio: torch.Tensor, beam: int, lengths: torch.Tensor | None, codes: torch.Tensor | None,
                effect_set: str | None, order: str | None, dry: torch.Tensor | None
                ) -> tuple[list[list[Hypothesis]], dict[str, torch.Tensor], dict]:
        """:meth:`decode`, and the decoder's cache of the projected memory (``decoder.init_cache``) for a readout."""
        mode = effect_set or self.config.effect_set
        if mode not in EFFECT_SET_MODES:
            raise ValueError(f"effect_set must be one of {', '.join(EFFECT_SET_MODES)}, got {mode!r}")
        order = order or self.config.order_search
        if order not in ORDER_SEARCH_MODES:
            raise ValueError(f"order must be one of {', '.join(ORDER_SEARCH_MODES)}, got {order!r}")
        memory, mask = self.encode(audio, lengths, codes=codes, dry=dry)
        heads = self.heads(memory, mask)
        heads["memory"], heads["memory_mask"] = memory, mask  # for a knob readout from the decoder (predict)
        sets = self.presence_sets(heads["presence_logits"]) if mode == "presence" else None
        cache = self.decoder.init_cache(memory, mask)  # the memory projected once for every decoder pass below
        hyps = beam_search(self.decoder, memory, mask, self.vocab, beam=beam, effect_sets=sets, memory_cache=cache)
        if beam > 1:
            greedy = beam_search(self.decoder, memory, mask, self.vocab, beam=1, effect_sets=sets, memory_cache=cache)
            for hs, g in zip(hyps, greedy):
                if g and all(h.ids != g[0].ids for h in hs):
                    hs.append(g[0])
                    hs.sort(key=lambda h: -h.log_prob)
        if order == "exhaustive":
            slots = torch.log(sinkhorn(heads["perm_logits"].float(), self.config.sinkhorn_tau,
                                       self.config.sinkhorn_iters).clamp_min(1e-8))
            for i, hs in enumerate(hyps):
                if hs:
                    seqs, logp = order_search(self.decoder, memory[i:i + 1], mask[i:i + 1], self.vocab, hs[0].ids,
                                              slots[i], self.config.order_slot_weight,
                                              memory_cache=self.decoder.rows_cache(cache, slice(i, i + 1)))
                    # every order is kept: their probabilities sum to 1, so audibly equivalent orders can be
                    # pooled exactly downstream (ddspfx.analysis.aggregate)
                    hyps[i] = [Hypothesis(q, float(lp)) for q, lp in zip(seqs, logp.tolist())]
        return hyps, heads, cache

    def bin_medians(self, ids: Sequence[int], memory: torch.Tensor, memory_mask: torch.Tensor) -> dict[str, list[float]]:
        """Per pedal of the token sequence ``ids`` (one clip; memory (1, F, D)), each knob's normalised value read as
        the median of the decoder's distribution over that knob's bins, teacher-forced on ``ids``."""
        return self.bin_medians_many([ids], self.decoder.init_cache(memory, memory_mask))[0]

    def bin_medians_many(self, sequences: Sequence[Sequence[int]], memory_cache: dict) -> list[dict[str, list[float]]]:
        """:meth:`bin_medians` of each clip's sequence (``memory_cache``: the clips' ``decoder.init_cache``, one row
        per sequence) in one teacher-forced pass: the sequences right-padded to one length (the decoder is causal,
        so no position reads the padding after it); a chain without pedals has no knobs and is not fed."""
        out: list[dict[str, list[float]]] = [{} for _ in sequences]
        rows = [i for i, ids in enumerate(sequences) if self.vocab.effect_order(ids)]
        if not rows:
            return out
        width = max(len(sequences[i]) - 1 for i in rows)
        device = memory_cache["mask"].device
        batch = torch.tensor([list(sequences[i][:-1]) + [self.vocab.bos_id] * (width - len(sequences[i]) + 1)
                              for i in rows], device=device)  # (R, W): each sequence but its </chain>
        cache = self.decoder.rows_cache(memory_cache, None if len(rows) == len(sequences)
                                        else torch.tensor(rows, device=device))
        logits = self.decoder.forward_cached(batch, cache).float()  # (R, W, V)
        for r, i in enumerate(rows):
            out[i] = self._read_bins(sequences[i], logits[r])
        return out

    def _read_bins(self, ids: Sequence[int], logits: torch.Tensor) -> dict[str, list[float]]:
        """Per pedal of ``ids``, each knob's bin median from the teacher-forced ``logits`` (L, V) on ``ids``."""
        out: dict[str, list[float]] = {}
        j = 0
        while j < len(ids) - 1:  # the grammar: an opening tag, then its knobs' bins in catalog order
            effect = self.vocab.opened_effect(ids[j + 1])
            j += 1
            if effect is None:
                continue
            bins = self._bin_ids(effect)
            # logits[j + k] predicts ids[j + k + 1], the k-th knob's bin
            out[effect] = [bin_distribution_median(torch.softmax(logits[j + k, allowed], -1).cpu().numpy())
                           for k, allowed in enumerate(bins)]
            j += len(bins)
        return out

    def _bin_ids(self, effect: str) -> list[torch.Tensor]:
        """Per knob of ``effect`` (catalog order), the vocabulary ids of its bins (built once per effect)."""
        table = self._bin_id_table
        if effect not in table:
            table[effect] = [torch.tensor([self.vocab.param_id(effect, p.name, b) for b in range(p.bins)])
                             for p in get_effect(effect).params]
        return table[effect]

    def with_head_values(self, chain: Chain, params: torch.Tensor) -> Chain:
        """The decoded chain's effects and order with the continuous head's (N, MAX_PARAMS) values."""
        return self._head_chain([p.effect for p in chain], params)

    def _head_chain(self, effects: Sequence[str], params: torch.Tensor) -> Chain:
        """``effects`` in this order with the continuous head's (N, MAX_PARAMS) values.

        Why not ``with_head_values(vocab.decode(ids))`` for a search's hypothesis: the values decoded from the bins
        are replaced anyway, the grammar-constrained search only finishes valid sequences, and decoding re-walks
        the grammar for every token (1.6 ms per 5-pedal chain); ``vocab.effect_order`` reads the same effects."""
        return Chain([Pedal(e, denormalise_params(e, params[self.effects.index(e)].numpy())) for e in effects])

    @torch.no_grad()
    def predict(self, audio: torch.Tensor, beam: int = 4, lengths: torch.Tensor | None = None,
                codes: torch.Tensor | None = None, effect_set: str | None = None, order: str | None = None,
                dry: torch.Tensor | None = None) -> list[Prediction]:
        """audio (B, T) at ``self.sample_rate`` -> one :class:`Prediction` per clip.

        ``codes`` and ``dry`` (a dry-aware model's second input, like ``audio``): see ``encode``;
        ``effect_set`` and ``order``: see ``decode``.
        """
        if audio.ndim == 1:
            audio = audio[None]
        if audio.ndim != 2:
            raise ValueError(f"predict takes (B, T) mono audio, got shape {tuple(audio.shape)}")
        was_training = self.training
        # eval() and train() each walk the ~150 submodules in Python: only when one of them is training
        switch = any(m.training for m in self.modules())
        if switch:
            self.eval()
        try:
            hyps, heads, cache = self._decode(audio.float(), beam, lengths, codes, effect_set, order,
                                              None if dry is None else (dry[None] if dry.ndim == 1 else dry).float())
        finally:
            if switch:
                self.train(was_training)
        presence = torch.sigmoid(heads["presence_logits"]).cpu()
        params = heads["params"].float().cpu()
        bins: list[dict[str, list[float]]] = [{} for _ in hyps]
        if self.config.knob_readout == "bins":  # every clip's best sequence in one teacher-forced pass
            bins = self.bin_medians_many([hs[0].ids if hs else [] for hs in hyps], cache)
        preds = []
        for i, hs in enumerate(hyps):
            conf = {name: float(presence[i, n]) for n, name in enumerate(self.effects)}
            if not hs:  # cannot happen with the grammar and max_tokens check; kept as a safe fallback
                preds.append(Prediction(Chain([]), conf, [], float("-inf"), []))
                continue
            best = hs[0]
            chain = self._head_chain(self.vocab.effect_order(best.ids), params[i])
            if bins[i]:
                u = bins[i]
                chain = Chain([Pedal(p.effect, denormalise_params(p.effect, np.asarray(u[p.effect])))
                               if p.effect in u else p for p in chain])
            by_effect = {p.effect: p for p in chain}
            seen = {tuple(chain.effects)}
            alts = []
            for h in hs[1:]:
                order_ = self.vocab.effect_order(h.ids)
                # another order of the same pedals (the exhaustive search's case) needs no decoding
                alt = (Chain([by_effect[e] for e in order_]) if sorted(order_) == sorted(by_effect)
                       else self._head_chain(order_, params[i]))
                sig = tuple(alt.effects)
                if sig not in seen:
                    seen.add(sig)
                    alts.append((alt, float(h.log_prob)))
            preds.append(Prediction(chain, conf, alts, float(best.log_prob), list(best.ids)))
        return preds

