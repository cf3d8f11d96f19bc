"""Grammar-constrained greedy and beam search over the pedal vocabulary, with a KV cache.

At every step the logits of ids the grammar (``PedalVocab.allowed_mask``) forbids are set to
-inf before the softmax, so every finished hypothesis decodes to a valid chain even from an
untrained model, and a hypothesis' score is its log-probability under the constrained model
(the probabilities of all valid chains sum to one).
Finished hypotheses are carried along with a zero-cost ``<pad>``. Greedy is beam width 1.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import AbstractSet

import torch

from ddspfx.model.decoder import TokenDecoder


@dataclass
class Hypothesis:
    ids: list[int]  # starts with <chain>, ends with </chain> when finished (no pads)
    log_prob: float  # sum of the token log-probabilities under the model


def beam_search(
    decoder: TokenDecoder,
    memory: torch.Tensor,
    memory_mask: torch.Tensor,
    vocab,
    beam: int = 4,
    max_len: int | None = None,
    effect_sets: Sequence[AbstractSet[str] | None] | None = None,
    memory_cache: dict | None = None,
) -> list[list[Hypothesis]]:
    """memory (B, F, D), memory_mask (B, F) -> per item up to ``beam`` finished hypotheses, best first.

    ``effect_sets[b]``: item b's chain must hold exactly these effects (the search picks order and bins).
    ``memory_cache``: ``decoder.init_cache(memory, memory_mask)`` when the caller has it (not projected again).
    """
    b, k = memory.shape[0], max(1, int(beam))
    max_len = min(max_len or decoder.max_tokens, decoder.max_tokens)
    device = memory.device
    shared = memory_cache if memory_cache is not None else decoder.init_cache(memory, memory_mask)
    # width 1 reads the clips' memory as it is; wider beams copy each clip's memory per beam row
    cache = decoder.rows_cache(shared, None if k == 1 else torch.arange(b, device=device).repeat_interleave(k))
    items = list(range(b))  # the items still searched; rows (len(items) * K) are theirs, K per item
    seqs: list[list[int]] = [[vocab.bos_id] for _ in range(b * k)]
    scores = torch.full((b, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # the other K-1 copies of <chain> start dead so the beam holds distinct prefixes
    done = torch.zeros(b * k, dtype=torch.bool, device=device)
    last = torch.full((b * k, 1), vocab.bos_id, dtype=torch.long, device=device)
    final: dict[int, tuple[list[list[int]], list[float], list[bool]]] = {}  # item -> its rows' seqs, scores, done
    v = len(vocab)
    for _ in range(max_len - 1):
        n = len(items)
        logits = decoder.step(last, cache).float()  # (n*K, V)
        alive = (~done) & torch.isfinite(scores.view(-1))
        allowed = torch.zeros(n * k, v, dtype=torch.bool)
        idx = alive.nonzero().flatten().tolist()
        if idx:
            sets = None if effect_sets is None else [effect_sets[items[i // k]] for i in idx]
            allowed[idx] = vocab.allowed_mask([seqs[i] for i in idx], sets)
        allowed[(~alive).cpu(), vocab.pad_id] = True  # finished or dead rows continue with a free <pad>
        # renormalise over the allowed ids: scores are log-probabilities under the constrained model
        logp = torch.log_softmax(logits.masked_fill(~allowed.to(device), float("-inf")), dim=-1)
        cand = (scores.view(-1, 1) + logp).view(n, k * v)
        top, pos = cand.topk(k, dim=1)  # (n, K)
        src = (torch.arange(n, device=device)[:, None] * k + torch.div(pos, v, rounding_mode="floor")).view(-1)
        tok = (pos % v).view(-1)
        if k > 1:  # at width 1 every row keeps its own place (src is arange(n)): nothing to reorder
            decoder.reorder_cache(cache, src)
        src_l, tok_l = src.tolist(), tok.tolist()
        seqs = [seqs[s] + ([t] if t != vocab.pad_id else []) for s, t in zip(src_l, tok_l)]
        done = done.index_select(0, src) | (tok == vocab.eos_id)
        scores = top
        last = tok[:, None]
        finished = (done | ~torch.isfinite(scores.view(-1))).view(n, k).all(1).tolist()
        flat, done_l = scores.view(-1).tolist(), done.tolist()
        for j in (j for j in range(n) if finished[j]):
            rows = range(j * k, (j + 1) * k)
            final[items[j]] = ([seqs[r] for r in rows], [flat[r] for r in rows], [done_l[r] for r in rows])
        keep = [j for j in range(n) if not finished[j]]
        if not keep:
            break
        if len(keep) < n:
            # a finished item only appends free <pad>s: it leaves the batch, so later steps run on fewer rows. At
            # least two rows stay (a finished one rides along when needed): one row alone takes another matrix
            # kernel, whose sums differ in the last bits, and the answers are kept as they were
            if len(keep) * k < 2:
                keep.append(next(j for j in range(n) if finished[j]))
            rows_t = torch.tensor([r for j in keep for r in range(j * k, (j + 1) * k)], device=device)
            decoder.reorder_cache(cache, rows_t)
            rows_l = rows_t.tolist()
            items = [items[j] for j in keep]
            seqs = [seqs[r] for r in rows_l]
            scores, done, last = scores[keep], done.index_select(0, rows_t), last.index_select(0, rows_t)
    else:  # max_len reached: the items still searched keep what they have
        flat, done_l = scores.view(-1).tolist(), done.tolist()
        for j, item in enumerate(items):
            rows = range(j * k, (j + 1) * k)
            final[item] = ([seqs[r] for r in rows], [flat[r] for r in rows], [done_l[r] for r in rows])
    out: list[list[Hypothesis]] = []
    for i in range(b):
        item_seqs, item_scores, item_done = final[i]
        hyps = [Hypothesis(q, sc) for q, sc, d in zip(item_seqs, item_scores, item_done) if d and sc > float("-inf")]
        hyps.sort(key=lambda h: -h.log_prob)
        out.append(hyps)
    return out


def greedy_search(decoder: TokenDecoder, memory: torch.Tensor, memory_mask: torch.Tensor, vocab,
                  max_len: int | None = None) -> list[Hypothesis]:
    """The most likely next allowed token at each step (beam width 1)."""
    return [h[0] for h in beam_search(decoder, memory, memory_mask, vocab, beam=1, max_len=max_len)]


def sequence_log_prob(decoder: TokenDecoder, memory: torch.Tensor, memory_mask: torch.Tensor, ids: torch.Tensor,
                      vocab) -> torch.Tensor:
    """Constrained log-probability (B,) of full sequences ids (B, L) (pad-terminated), by teacher forcing.

    Uses the same grammar masking as the search, so it scores hypotheses on the search's scale.
    """
    logits = decoder(ids[:, :-1], memory, memory_mask).float()  # (B, L-1, V)
    total = torch.zeros(ids.shape[0], device=ids.device)
    for i in range(ids.shape[0]):
        seq = [t for t in ids[i].tolist() if t != vocab.pad_id]
        prefixes = [seq[:j] for j in range(1, len(seq))]
        mask = vocab.allowed_mask(prefixes).to(ids.device)
        lp = torch.log_softmax(logits[i, : len(prefixes)].masked_fill(~mask, float("-inf")), dim=-1)
        total[i] = lp.gather(1, torch.tensor(seq[1:], device=ids.device)[:, None]).sum()
    return total


def pedal_segments(ids: Sequence[int], vocab) -> list[tuple[str, list[int]]]:
    """A finished hypothesis' ids -> (effect, ``<effect> bins... </effect>`` ids) per pedal, in chain order."""
    segs: list[tuple[str, list[int]]] = []
    for i in ids:
        effect = vocab.opened_effect(i)
        if effect is not None:
            segs.append((effect, [i]))
        elif segs and segs[-1][1][-1] != vocab.effect_close_id(segs[-1][0]):  # inside an open pedal
            segs[-1][1].append(i)
    return segs


def order_search(decoder: TokenDecoder, memory: torch.Tensor, memory_mask: torch.Tensor, vocab, ids: Sequence[int],
                 slot_log_probs: torch.Tensor | None = None, slot_weight: float = 1.0, memory_cache: dict | None = None
                 ) -> tuple[list[list[int]], torch.Tensor]:
    """Score every order of one hypothesis' pedals; returns (id sequences, log P(order | effect set)), best first.

    memory (1, F, D), memory_mask (1, F) for one clip (``memory_cache``: its ``decoder.init_cache``, if the caller
    has it); ``ids`` a finished hypothesis (its bins travel with their pedal). An order's score is the decoder's
    log-probability of its *choice* tokens, each renormalised over the effects of the set not yet placed (the
    decoder's own answer to "which of these comes next?"), plus ``slot_weight`` x sum_k log S[k, effect_k] with S
    the switching-matrix head's soft permutation (``slot_log_probs`` (N slots, N effects), effects in the
    vocabulary's order). The scores are log-softmaxed over the orders. Why exhaustive: at most 5! = 120 orders in
    one batched teacher-forced pass (:func:`_choice_logits`), while a beam of 4 sees a handful of orders and
    commits to the first pedal early.
    Measured (experiments/results/order_search/, 1000 development clips): nonlinear pair order 0.777
    (beam 4) -> 0.783 (decoder alone) -> 0.799 (with the switching head, weight 1) for the 128-minute model,
    0.791 -> 0.806 -> 0.815 for the 248-minute one; on the 28-minute default model's test clips 0.626 ->
    0.658. Exact chains stay level.
    """
    segs = pedal_segments(ids, vocab)
    if len(segs) < 2:
        return [list(ids)], torch.zeros(1)
    perms = list(itertools.permutations(range(len(segs))))
    seqs = [[vocab.bos_id] + [t for k in p for t in segs[k][1]] + [vocab.eos_id] for p in perms]
    cache = memory_cache if memory_cache is not None else decoder.init_cache(memory, memory_mask)
    choice = _choice_logits(decoder, cache, vocab, segs)  # (P, slot, segment)
    logp = _order_log_probs(choice, segs, perms, slot_log_probs, slot_weight, vocab.effects)
    best = logp.argsort(descending=True).tolist()
    return [seqs[r] for r in best], logp[best]


def _choice_logits(decoder: TokenDecoder, cache: dict, vocab, segs: list[tuple[str, list[int]]]) -> torch.Tensor:
    """The decoder's logits of the pedals' opening tags at each slot of every order (itertools.permutations order):
    (P, n slots, n segments), from one teacher-forced pass over what the scores need.

    Why not every order in full: slot s's choice is read after the first s pedals, so only the orders' first
    n - 2 pedals are fed (n!/2 distinct prefixes, the two orders that differ in their last two pedals share one),
    and the last slot's choice is certain (one pedal left: its log-softmax is 0 whatever the logits, so they are
    left 0). For five pedals that is 60 sequences of three pedals instead of 120 of five; the final norm and
    the head run on the n - 1 positions read. The memory is one clip's, shared by every sequence (a view: batching
    the orders of several clips had to copy each clip's memory per sequence, and was 1.7x slower).
    """
    n = len(segs)
    heads = list(itertools.permutations(range(n), n - 2))  # lexicographic: order p starts with heads[p // 2]
    prefixes = [[vocab.bos_id] + [t for k in h for t in segs[k][1]] for h in heads]
    width = max(len(q) for q in prefixes)
    device = cache["mask"].device
    # right-padded with <chain> to one length: the decoder is causal, so no position reads the padding after it
    batch = torch.tensor([q + [vocab.bos_id] * (width - len(q)) for q in prefixes], device=device)  # (U, W)
    u = len(heads)
    hidden = decoder.hidden_cached(batch, decoder.rows_cache(cache, copies=u))  # (U, W, D)
    seg_len = [len(t) for _, t in segs]
    # slot s's opening tag is predicted at the last token of slot s - 1 (position 0, <chain>, for slot 0)
    pos = torch.tensor([[sum(seg_len[k] for k in h[:s]) for s in range(n - 1)] for h in heads], device=device)
    at = hidden[torch.arange(u, device=device)[:, None], pos]  # (U, n - 1, D)
    open_ids = torch.tensor([t[0] for _, t in segs], device=device)
    choice = decoder.output(at).float()[..., open_ids]  # (U, n - 1 slots, n segments)
    choice = torch.cat([choice, choice.new_zeros(u, 1, n)], dim=1)  # the last slot: certain
    return choice.repeat_interleave(2, dim=0)  # (P, n, n): orders 2i and 2i + 1 share heads[i]


def _order_log_probs(choice: torch.Tensor, segs: list, perms: list[tuple[int, ...]],
                     slot_log_probs: torch.Tensor | None, slot_weight: float, effects: Sequence[str]) -> torch.Tensor:
    """log P(order | set) over ``perms`` from the opening tags' logits ``choice`` (P, slot, segment); see
    order_search."""
    device, n = choice.device, len(segs)
    order = torch.tensor(perms, device=device)  # (P, n): segment index per slot
    rank = order.argsort(dim=1)  # (P, segment): its slot
    placed = rank[:, None, :] < torch.arange(n, device=device)[None, :, None]  # already in an earlier slot
    lp = torch.log_softmax(choice.masked_fill(placed, float("-inf")), dim=-1)
    score = lp.gather(2, order[:, :, None]).squeeze(2).sum(1)  # (P,)
    if slot_log_probs is not None and slot_weight:
        cols = torch.tensor([effects.index(name) for name, _ in segs], device=device)  # the model's head order
        slot_lp = slot_log_probs.to(score)[torch.arange(n, device=device)[None], cols[order]]  # (P, n)
        score = score + slot_weight * slot_lp.sum(1)
    return torch.log_softmax(score, dim=0)
