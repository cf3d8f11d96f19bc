"""The training objective: token CE + heads (presence, permutation, params) + MR-STFT through the proxies.

``DdspfxLoss(config)(out, batch, step)`` returns a dict of named terms and their weighted
sum ``"loss"``. The MR-STFT term renders ``SoftChain(dry, sinkhorn(perm_logits),
sigmoid(presence), params) * output_gain`` and compares it with the wet clip; it is only
switched on after ``stft_warmup_steps`` (CE and heads first: the proxy gradient is only
informative once the model roughly knows the chain), then ramps linearly. To keep it
affordable on CPU it runs on a random sub-crop (``stft_crop_s``, with ``stft_preroll_s`` of
dry audio before it so delay/reverb tails that started earlier are present) of at most
``stft_batch`` clips. The gates enter the proxy chain detached (``stft_gate_grad`` False): the audio
term trains the order (Sinkhorn logits) and the parameters, the presence labels train the gates.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.config import LossConfig
from ddspfx.model.sinkhorn import sinkhorn
from ddspfx.proxies.switching import SoftChain
from ddspfx.spectral import TRAINING, mrstft


def token_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, pad_id: int, label_smoothing: float = 0.0,
                        weight: torch.Tensor | None = None) -> torch.Tensor:
    """logits (B, L, V) for targets (B, L); pad positions are ignored. ``weight`` (V,): per target id,
    the result is then the weighted mean over positions (sum of w * loss / sum of w)."""
    return F.cross_entropy(rearrange(logits.float(), "b l v -> b v l"), targets, weight=weight, ignore_index=pad_id,
                           label_smoothing=label_smoothing)


def choice_weights(vocab, weight: float) -> torch.Tensor | None:
    """(V,) CE weights: ``weight`` on the tokens that choose the next effect or end the chain, 1 elsewhere;
    None when ``weight`` is 1. Why: a chain's ~5 tokens per pedal are mostly parameter bins, so the
    few tokens that decide presence and order get ~1/5 of the plain mean's gradient."""
    if weight == 1.0:
        return None
    w = torch.ones(len(vocab))
    w[vocab.choice_ids()] = float(weight)
    return w


def token_accuracy(logits: torch.Tensor, targets: torch.Tensor, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(token accuracy over non-pad positions, fraction of sequences with every token right)."""
    valid = targets != pad_id
    right = (logits.argmax(-1) == targets) | ~valid
    tok = (right & valid).sum().float() / valid.sum().clamp_min(1)
    return tok, right.all(dim=1).float().mean()


def presence_bce(presence_logits: torch.Tensor, presence: torch.Tensor) -> torch.Tensor:
    """(B, N) logits vs (B, N) 0/1 targets."""
    return F.binary_cross_entropy_with_logits(presence_logits.float(), presence.float())


def permutation_nll(perm_logits: torch.Tensor, order: torch.Tensor, tau: float = 1.0, n_iters: int = 20
                    ) -> torch.Tensor:
    """Mean -log P[k, order[k]] under the Sinkhorn matrix of perm_logits (B, N, N); order (B, N) effect ids."""
    p = sinkhorn(perm_logits.float(), tau=tau, n_iters=n_iters)  # (B, N, N)
    picked = rearrange(p.gather(2, rearrange(order, "b n -> b n 1")), "b n 1 -> b n")  # P[k, order[k]]
    return -torch.log(picked.clamp_min(1e-8)).mean()


def param_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean |pred - target| over real params of present effects; (B, N, P) each, mask bool."""
    m = mask.float()
    return ((pred.float() - target.float()).abs() * m).sum() / m.sum().clamp_min(1.0)


def order_to_perm(order: torch.Tensor) -> torch.Tensor:
    """order (B, N) effect id per slot -> one-hot (B, N slots, N effects)."""
    return F.one_hot(order, order.shape[1]).float()


class _ClipGrad(torch.autograd.Function):
    """Identity forward; backward scales the incoming gradient to norm <= max_norm (whole tensor)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, max_norm: float) -> torch.Tensor:
        ctx.max_norm = max_norm
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        norm = g.norm()
        return g * (ctx.max_norm / norm).clamp(max=1.0) if norm > 0 else g, None


def clip_grad(x: torch.Tensor, max_norm: float) -> torch.Tensor:
    """``x`` unchanged, but the gradient flowing back through it has norm at most ``max_norm`` (0 = no clip).

    Used where the proxy chain's inputs leave the network: measured on a trained model, the MR-STFT
    term's gradient had norm ~230 against ~1 for the supervised terms, so the trainer's global
    gradient clipping silently scaled the supervised gradients down ~200x once the audio term started.
    """
    return _ClipGrad.apply(x, float(max_norm)) if max_norm > 0 and x.requires_grad else x


def stft_weight(step: int | None, cfg: LossConfig) -> float:
    """The STFT term's weight at training ``step``: 0 during warm-up, then a linear ramp to ``cfg.stft``,
    on every ``cfg.stft_every``-th step only (0 between). ``step=None`` (validation) = the full weight.

    The proxy chain costs about as much as the rest of a CPU step (0.93 vs 0.45 s), so running it on one
    step in k keeps the analysis-by-synthesis gradient while the supervised terms get ~2x the steps.
    """
    if cfg.stft <= 0:
        return 0.0
    if step is None:
        return cfg.stft
    if step < cfg.stft_warmup_steps or (step - cfg.stft_warmup_steps) % max(1, cfg.stft_every):
        return 0.0
    ramp = max(1, cfg.stft_ramp_steps)
    return cfg.stft * min(1.0, (step - cfg.stft_warmup_steps + 1) / ramp)


class DdspfxLoss(nn.Module):
    """All terms of the objective, weighted per :class:`LossConfig`."""

    token_weights: torch.Tensor | None  # (V,) buffer, see choice_weights

    def __init__(self, cfg: LossConfig, pad_id: int, sample_rate: int = SAMPLE_RATE, sinkhorn_tau: float = 1.0,
                 sinkhorn_iters: int = 20, token_weights: torch.Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("token_weights", token_weights, persistent=False)  # see choice_weights
        self.cfg, self.pad_id, self.sample_rate = cfg, pad_id, int(sample_rate)
        self.tau, self.iters = sinkhorn_tau, sinkhorn_iters
        self.soft_chain = SoftChain()
        self.mrstft = mrstft(TRAINING)

    def reconstruct(self, out: dict[str, torch.Tensor], batch: dict, rows: slice | torch.Tensor = slice(None),
                    start: int = 0, length: int | None = None, preroll: int = 0, teacher_perm: bool = False
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction, wet) (b, 1, length) for batch ``rows`` on samples [start, start+length)."""
        dry, wet = batch["dry"][rows], batch["wet"][rows]
        length = dry.shape[-1] - start if length is None else length
        pre = min(preroll, start)
        seg = rearrange(dry[:, start - pre: start + length].float(), "b t -> b 1 t")  # t = pre + length
        if teacher_perm:
            perm = order_to_perm(batch["order"][rows])
        else:
            perm = sinkhorn(out["perm_logits"][rows].float(), tau=self.tau, n_iters=self.iters)
        gates = torch.sigmoid(out["presence_logits"][rows].float())
        if not self.cfg.stft_gate_grad:
            # Presence is learnt from its labels only: through the gates the MR-STFT gradient prefers
            # "no effect" over "effect with not-yet-right settings" and drove every gate to 0
            # (experiments/results/switching: presence µF1 0.70 -> 0.00 with the gate gradient on).
            gates = gates.detach()
        params = out["params"][rows].float()
        perm, params, gates = (clip_grad(t, self.cfg.stft_grad_clip) for t in (perm, params, gates))
        with torch.autocast(device_type=seg.device.type, enabled=False):  # proxies and STFTs in float32
            y = self.soft_chain(seg, perm, gates, params, self.sample_rate)[..., pre:]
        y = y * rearrange(batch["output_gain"][rows].float(), "b -> b 1 1")
        return y, rearrange(wet[:, start: start + length].float(), "b t -> b 1 t")

    def forward(self, out: dict[str, torch.Tensor], batch: dict, step: int | None) -> dict[str, torch.Tensor]:
        """Weighted terms and their total; ``step`` drives the STFT schedule (None = validation, full weight)."""
        c = self.cfg
        targets = batch["tokens"][:, 1:]
        if "token_supervised" in batch:  # knobs the clip does not define: no target
            targets = targets.masked_fill(~batch["token_supervised"][:, 1:], self.pad_id)
        terms = {
            "ce": token_cross_entropy(out["token_logits"], targets, self.pad_id, c.label_smoothing, self.token_weights),
            "presence": presence_bce(out["presence_logits"], batch["presence"]),
            "perm": permutation_nll(out["perm_logits"], batch["order"], self.tau, self.iters),
            "params": param_l1(out["params"], batch["params"], batch["param_mask"]),
        }
        total = c.ce * terms["ce"] + c.presence * terms["presence"] + c.perm * terms["perm"] + c.params * terms["params"]
        w = stft_weight(step, c)
        if w > 0:
            t = batch["dry"].shape[-1]
            length = min(t, max(1, int(c.stft_crop_s * self.sample_rate)))
            pre = int(c.stft_preroll_s * self.sample_rate)
            lo = min(pre, t - length)
            start = int(torch.randint(lo, t - length + 1, ()).item()) if t - length > lo else max(lo, 0)
            exact = batch.get("proxy_exact")  # clips rendered by plugins: the proxies cannot reproduce them
            rows = (torch.arange(batch["dry"].shape[0], device=batch["dry"].device) if exact is None
                    else exact.nonzero().flatten())[: c.stft_batch]
            if rows.numel():
                y, target = self.reconstruct(out, batch, rows, start, length, pre, c.stft_teacher_perm)
                with torch.autocast(device_type=y.device.type, enabled=False):
                    terms["stft"] = self.mrstft(y, target)
                total = total + w * terms["stft"]
        terms["stft_weight"] = torch.tensor(w)
        terms["loss"] = total
        return terms
