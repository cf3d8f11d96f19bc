"""Model, front end, search, losses, config and checkpoint tests (fast: random weights, short clips)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from ddspfx.catalog import EFFECT_NAMES, MAX_PARAMS, SAMPLE_RATE
from ddspfx.config import FrontEndConfig, ModelConfig, load_config
from ddspfx.errors import DdspfxError

torch.set_num_threads(1)
N = len(EFFECT_NAMES)


def tiny_config(**kw) -> ModelConfig:
    fe = FrontEndConfig(n_mels=32, n_fft=1024, hop=512, stack=2)
    base = dict(d_model=32, n_heads=2, enc_layers=1, dec_layers=2, head_layers=1, ff_mult=2, dropout=0.0, frontend=fe)
    base.update(kw)
    return ModelConfig(**base)


@pytest.fixture(scope="module")
def model():
    from ddspfx.model import DdspfxModel

    torch.manual_seed(0)
    return DdspfxModel(tiny_config(), clip_seconds=0.5).eval()


def audio(b: int = 2, seconds: float = 0.5, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(b, int(seconds * SAMPLE_RATE), generator=g)


# --- front end ------------------------------------------------------------------------------


def test_mel_scale_reference_points():
    from ddspfx.frontends.mel import hz_to_mel, mel_to_hz

    # Slaney: linear 200/3 Hz per mel below 1 kHz, 27 mels per factor 6.4 above
    assert float(hz_to_mel(1000.0)) == pytest.approx(15.0)
    assert float(hz_to_mel(6400.0)) == pytest.approx(15.0 + 27.0)
    f = np.array([50.0, 700.0, 1000.0, 3000.0, 12000.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(f)), f, rtol=1e-9)


def test_mel_sine_lands_in_its_band():
    from ddspfx.frontends.mel import MelFrontEnd, hz_to_mel, mel_to_hz

    fe = MelFrontEnd(dim=16, n_mels=64, n_fft=2048, hop=512, stack=1)
    centres = mel_to_hz(np.linspace(hz_to_mel(fe.f_min), hz_to_mel(fe.f_max), fe.n_mels + 2))[1:-1]
    t = torch.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    for f0 in (220.0, 1000.0, 5000.0):
        feats = fe.features(torch.sin(2 * math.pi * f0 * t)[None])  # (1, F, M)
        band = int(feats[0, 10].argmax())
        assert abs(band - int(np.argmin(np.abs(centres - f0)))) <= 1


@pytest.mark.parametrize("conv_channels,time_pool", [(0, 4), (4, 1), (4, 4)])
def test_frontend_frames_and_mask(conv_channels, time_pool):
    from ddspfx.frontends import build_frontend

    fe = build_frontend("mel", dim=24, n_mels=32, n_fft=1024, hop=256, stack=3, conv_channels=conv_channels,
                        conv_time_pool=time_pool)
    assert build_frontend(**fe.config()).config() == fe.config()  # config() rebuilds the same front end
    x = audio(2, 0.3)
    tokens, mask = fe(x, torch.tensor([x.shape[1], 2560]))
    assert tokens.shape == (2, fe.frames_for(x.shape[1]), 24)
    assert mask[0].all()
    pool = time_pool if conv_channels else 1  # 11 STFT frames -> ceil(11 / pool) after the stem
    assert int(mask[1].sum()) == math.ceil(math.ceil((2560 // 256 + 1) / pool) / 3)


def test_dac_frontend_missing_says_how_to_install():
    from ddspfx.frontends import build_frontend

    try:
        import ddspfx.frontends.dac  # noqa: F401
    except ImportError:
        with pytest.raises(DdspfxError, match=r"pip install ddspfx\[dac\]"):
            build_frontend("dac")
    with pytest.raises(DdspfxError, match="unknown front end"):
        build_frontend("mfcc")


# --- model ----------------------------------------------------------------------------------


def batch_for(model, b: int = 2, seed: int = 0) -> dict:
    from ddspfx.sampler import ChainSampler, SamplerConfig

    rng = np.random.default_rng(seed)
    sampler = ChainSampler(SamplerConfig(max_effects=3))
    seqs = [model.vocab.encode(sampler.sample(rng)) for _ in range(b)]
    L = max(map(len, seqs))
    tokens = torch.full((b, L), model.vocab.pad_id)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = torch.tensor(s)
    return {"wet": audio(b, 0.5, seed), "tokens": tokens}


def test_forward_shapes(model):
    batch = batch_for(model, 3)
    out = model(batch)
    b, L = batch["tokens"].shape
    assert out["token_logits"].shape == (b, L - 1, len(model.vocab))
    assert out["presence_logits"].shape == (b, N)
    assert out["perm_logits"].shape == (b, N, N)
    assert out["params"].shape == (b, N, MAX_PARAMS)
    assert (out["params"] >= 0).all() and (out["params"] <= 1).all()


def test_decoder_is_causal_and_ignores_masked_frames(model):
    batch = batch_for(model, 2)
    memory, mask = model.encode(batch["wet"])
    ids = batch["tokens"]
    ref = model.decoder(ids, memory, mask)
    changed = ids.clone()
    changed[:, -1] = model.vocab.eos_id
    out = model.decoder(changed, memory, mask)
    torch.testing.assert_close(out[:, :-1], ref[:, :-1])
    # frames outside the mask must not matter to the decoder or the heads
    mask2 = mask.clone()
    mask2[:, -3:] = False
    noisy = memory.clone()
    noisy[:, -3:] = torch.randn_like(noisy[:, -3:]) * 10
    torch.testing.assert_close(model.decoder(ids, noisy, mask2), model.decoder(ids, memory, mask2))
    torch.testing.assert_close(model.heads(noisy, mask2)["perm_logits"], model.heads(memory, mask2)["perm_logits"])


def test_kv_cache_equals_full_recompute(model):
    batch = batch_for(model, 2, seed=3)
    memory, mask = model.encode(batch["wet"])
    ids = batch["tokens"]
    full = model.decoder(ids, memory, mask)  # (B, L, V)
    cache = model.decoder.init_cache(memory, mask)
    first = model.decoder.step(ids[:, :3], cache)  # a multi-token chunk, then one at a time
    torch.testing.assert_close(first, full[:, 2], atol=1e-5, rtol=1e-5)
    for t in range(3, ids.shape[1]):
        torch.testing.assert_close(model.decoder.step(ids[:, t : t + 1], cache), full[:, t], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_constrained_decoding_always_valid_from_untrained_model(seed):
    from ddspfx.model import DdspfxModel

    torch.manual_seed(seed)
    m = DdspfxModel(tiny_config(max_effects=5)).eval()
    # exaggerate the random weights so the unconstrained argmax would be garbage
    with torch.no_grad():
        m.decoder.head.weight.mul_(30)
    hyps, _ = m.decode(audio(3, 0.4, seed), beam=3)
    for hs in hyps:
        assert hs
        for h in hs:
            chain = m.vocab.decode(h.ids)  # raises on an invalid sequence
            assert len(chain) <= 5
            assert h.ids[0] == m.vocab.bos_id and h.ids[-1] == m.vocab.eos_id


def test_beam_scores_are_true_log_probs_and_beat_greedy(model):
    from ddspfx.model.search import beam_search, sequence_log_prob

    x = audio(3, 0.5, seed=7)
    memory, mask = model.encode(x)
    greedy = beam_search(model.decoder, memory, mask, model.vocab, beam=1)
    hyps, _ = model.decode(x, beam=4, effect_set="decoder", order="beam")  # unconstrained set: comparable with greedy
    for i in range(3):
        assert hyps[i][0].log_prob >= greedy[i][0].log_prob - 1e-4
        assert [h.log_prob for h in hyps[i]] == sorted((h.log_prob for h in hyps[i]), reverse=True)
        # the search's score equals the teacher-forced constrained log-probability of the sequence
        ids = torch.tensor([hyps[i][0].ids])
        ref = sequence_log_prob(model.decoder, memory[i : i + 1], mask[i : i + 1], ids, model.vocab)
        assert float(ref.detach()) == pytest.approx(hyps[i][0].log_prob, abs=1e-3)


def test_predict_takes_order_from_tokens_and_values_from_the_head(model):
    from ddspfx.catalog import effect_index, get_effect, normalise

    x = audio(2, 0.5, seed=5)
    preds = model.predict(x, beam=3)
    model.eval()
    with torch.no_grad():
        memory, mask = model.encode(x)
        head_params = model.heads(memory, mask)["params"]
    assert len(preds) == 2
    for i, p in enumerate(preds):
        assert set(p.effect_confidence) == set(EFFECT_NAMES)
        assert all(0.0 <= v <= 1.0 for v in p.effect_confidence.values())
        assert model.vocab.decode(p.ids).effects == p.chain.effects
        for r in p.chain:
            want = head_params[i, effect_index(r.effect)]
            for j, q in enumerate(get_effect(r.effect).params):
                assert float(normalise(r.params[q.name], q)) == pytest.approx(float(want[j]), abs=1e-5)
        sigs = [tuple(a.effects) for a, _ in p.alternatives]
        assert tuple(p.chain.effects) not in sigs and len(set(sigs)) == len(sigs)
        assert all(lp <= p.log_prob + 1e-6 for _, lp in p.alternatives)


def _chain(*effects: str):
    from ddspfx.catalog import denormalise_params, get_effect
    from ddspfx.chain import Chain, Pedal

    return Chain([Pedal(e, denormalise_params(e, np.linspace(0.2, 0.8, len(get_effect(e).params))))
                  for e in effects])


def test_pedal_segments_split_a_hypothesis_per_pedal(model):
    from ddspfx.model.search import pedal_segments

    ids = model.vocab.encode(_chain("compressor", "delay", "eq"))
    segs = pedal_segments(ids, model.vocab)
    assert [e for e, _ in segs] == ["compressor", "delay", "eq"]
    assert [model.vocab.bos_id] + [t for _, seg in segs for t in seg] + [model.vocab.eos_id] == ids


def _order_scores_by_plain_teacher_forcing(model, chain, memory, mask) -> dict[tuple[int, ...], float]:
    """Reference: each order encoded by the vocabulary and run through the decoder's plain forward; at each
    pedal, log-softmax over the not-yet-placed effects' opening tags; then normalised over the n! orders."""
    import itertools

    from ddspfx.chain import Chain

    ref = {}
    with torch.no_grad():
        for perm in itertools.permutations(chain.pedals):
            ids = model.vocab.encode(Chain(list(perm)))
            logits = model.decoder(torch.tensor([ids[:-1]]), memory, mask)[0]
            score, pos, left = 0.0, 0, [p.effect for p in perm]
            for pedal in perm:
                opens = [model.vocab.effect_open_id(e) for e in left]
                score += float(torch.log_softmax(logits[pos, opens], 0)[left.index(pedal.effect)])
                left.remove(pedal.effect)
                pos += 2 + len(pedal.params)
            ref[tuple(ids)] = score
    return dict(zip(ref, torch.log_softmax(torch.tensor(list(ref.values())), 0).tolist()))


@pytest.mark.parametrize("effects", [("delay", "eq"), ("eq", "compressor", "reverb", "phaser"),
                                     ("reverb", "distortion", "delay", "chorus", "compressor")])
def test_order_search_scores_orders_of_two_to_five_pedals_like_plain_teacher_forcing(model, effects):
    """The search feeds only the orders' first n - 2 pedals; the scores are those of every order fed in full."""
    from ddspfx.model.search import order_search

    chain = _chain(*effects)
    memory, mask = model.encode(audio(1, 0.5, seed=len(effects)))
    with torch.no_grad():
        seqs, logp = order_search(model.decoder, memory, mask, model.vocab, model.vocab.encode(chain))
    want = _order_scores_by_plain_teacher_forcing(model, chain, memory, mask)
    assert len(seqs) == math.factorial(len(effects)) and {tuple(q) for q in seqs} == set(want)
    for q, lp in zip(seqs, logp.tolist()):
        assert lp == pytest.approx(want[tuple(q)], abs=1e-4)
    assert logp.tolist() == sorted(logp.tolist(), reverse=True)


def test_order_search_scores_every_order_like_plain_teacher_forcing(model):
    from ddspfx.catalog import effect_index
    from ddspfx.model.search import order_search

    chain = _chain("distortion", "reverb", "chorus")
    memory, mask = model.encode(audio(1, 0.5, seed=3))
    with torch.no_grad():
        seqs, logp = order_search(model.decoder, memory, mask, model.vocab, model.vocab.encode(chain))
    want = _order_scores_by_plain_teacher_forcing(model, chain, memory, mask)
    assert len(seqs) == 6 and {tuple(q) for q in seqs} == set(want)
    for q, lp in zip(seqs, logp.tolist()):
        assert lp == pytest.approx(want[tuple(q)], abs=1e-4)
    assert logp.tolist() == sorted(logp.tolist(), reverse=True)
    assert float(logp.exp().sum()) == pytest.approx(1.0, abs=1e-5)
    # a switching head sure of "chorus, distortion, reverb" outvotes the decoder at weight 1, not at weight 0
    slots = torch.full((N, N), -50.0)
    for k, e in enumerate(["chorus", "distortion", "reverb"]):
        slots[k, effect_index(e)] = 0.0
    with torch.no_grad():
        sure, _ = order_search(model.decoder, memory, mask, model.vocab, model.vocab.encode(chain), slots, 1.0)
        off, _ = order_search(model.decoder, memory, mask, model.vocab, model.vocab.encode(chain), slots, 0.0)
    assert model.vocab.decode(sure[0]).effects == ["chorus", "distortion", "reverb"]
    assert off[0] == seqs[0]
    one, lp1 = order_search(model.decoder, memory, mask, model.vocab, model.vocab.encode(_chain("eq")))
    assert one == [model.vocab.encode(_chain("eq"))] and lp1.tolist() == [0.0]


def test_exhaustive_order_reorders_the_beams_effect_set(model):
    x = audio(3, 0.5, seed=13)
    beam = model.predict(x, beam=3, order="beam")
    full = model.predict(x, beam=3, order="exhaustive")
    for b, f in zip(beam, full):
        assert sorted(f.chain.effects) == sorted(b.chain.effects)
        assert model.vocab.decode(f.ids).effects == f.chain.effects
        assert all(sorted(a.effects) == sorted(f.chain.effects) for a, _ in f.alternatives)
        lps = [f.log_prob] + [lp for _, lp in f.alternatives]
        assert lps == sorted(lps, reverse=True) and sum(math.exp(v) for v in lps) <= 1.0 + 1e-6
    with pytest.raises(ValueError, match="order"):
        model.predict(x, order="greedy")
    with pytest.raises(DdspfxError, match="order_search"):
        from ddspfx.model import DdspfxModel

        DdspfxModel(tiny_config(order_search="sorted"))


# --- losses ---------------------------------------------------------------------------------


def test_permutation_nll_and_param_l1_against_closed_forms():
    from ddspfx.losses import param_l1, permutation_nll

    order = torch.stack([torch.randperm(N) for _ in range(2)])
    logits = torch.nn.functional.one_hot(order, N).float() * 50.0
    assert float(permutation_nll(logits, order)) < 1e-3
    assert float(permutation_nll(torch.zeros(2, N, N), order)) == pytest.approx(math.log(N), rel=1e-4)
    pred, target = torch.rand(2, N, MAX_PARAMS), torch.rand(2, N, MAX_PARAMS)
    mask = torch.rand(2, N, MAX_PARAMS) > 0.5
    ref = np.abs(pred.numpy() - target.numpy())[mask.numpy()].mean()
    assert float(param_l1(pred, target, mask)) == pytest.approx(ref, rel=1e-5)


def test_token_ce_matches_numpy():
    from ddspfx.losses import token_cross_entropy

    logits = torch.randn(2, 4, 6)
    targets = torch.tensor([[1, 2, 0, 0], [3, 4, 5, 0]])
    lp = logits.numpy() - np.log(np.exp(logits.numpy()).sum(-1, keepdims=True))
    valid = [(b, t) for b in range(2) for t in range(4) if targets[b, t] != 0]
    ref = -np.mean([lp[b, t, targets[b, t]] for b, t in valid])
    assert float(token_cross_entropy(logits, targets, pad_id=0)) == pytest.approx(ref, rel=1e-5)
    w = torch.tensor([1.0, 1.0, 1.0, 3.0, 1.0, 1.0])  # target id 3 counts three times in the weighted mean
    nll = {(b, t): -lp[b, t, targets[b, t]] for b, t in valid}
    ref_w = sum(w[targets[b, t]].item() * v for (b, t), v in nll.items()) / sum(w[targets[b, t]].item() for b, t in valid)
    assert float(token_cross_entropy(logits, targets, pad_id=0, weight=w)) == pytest.approx(ref_w, rel=1e-5)


def test_choice_weights_pick_effect_openings_and_chain_end():
    from ddspfx.catalog import EFFECT_NAMES
    from ddspfx.losses import choice_weights
    from ddspfx.vocab import PedalVocab

    vocab = PedalVocab()
    assert choice_weights(vocab, 1.0) is None
    w = choice_weights(vocab, 4.0)
    heavy = sorted(vocab.token(i) for i in torch.nonzero(w == 4.0).flatten().tolist())
    assert heavy == sorted([f"<{e}>" for e in EFFECT_NAMES] + ["</chain>"])
    assert int((w == 1.0).sum()) == len(vocab) - len(EFFECT_NAMES) - 1


def test_stft_schedule():
    from ddspfx.config import LossConfig
    from ddspfx.losses import stft_weight

    c = LossConfig(stft=2.0, stft_warmup_steps=10, stft_ramp_steps=4)
    assert [stft_weight(s, c) for s in (0, 9, 10, 11, 13, 100)] == [0.0, 0.0, 0.5, 1.0, 2.0, 2.0]
    assert stft_weight(10**6, LossConfig(stft=0.0)) == 0.0
    assert stft_weight(None, c) == 2.0 and stft_weight(None, LossConfig(stft=0.0)) == 0.0  # validation
    every = LossConfig(stft=2.0, stft_warmup_steps=10, stft_ramp_steps=1, stft_every=3)
    assert [stft_weight(s, every) for s in range(9, 17)] == [0.0, 2.0, 0.0, 0.0, 2.0, 0.0, 0.0, 2.0]


@pytest.mark.parametrize("gate_grad", [False, True])
def test_stft_term_trains_order_and_params_but_gates_only_when_asked(model, gate_grad):
    """By default the audio term must not reach the presence logits (it switched every gate off)."""
    from ddspfx.config import LossConfig
    from ddspfx.data.collate import collate
    from ddspfx.data.dataset import EffectsDataset
    from ddspfx.losses import DdspfxLoss

    ds = EffectsDataset(source_spec="synth", n=4, seed=3, duration_s=0.5)
    batch = collate([ds[i] for i in range(4)])
    assert batch["presence"].sum() > 0
    cfg = LossConfig(stft=1.0, stft_warmup_steps=0, stft_ramp_steps=1, stft_crop_s=0.1, stft_preroll_s=0.05,
                     stft_batch=4, stft_gate_grad=gate_grad)
    loss = DdspfxLoss(cfg, model.vocab.pad_id)
    out = model(batch)
    torch.manual_seed(0)
    stft = loss(out, batch, step=10)["stft"]
    g_presence, g_perm, g_params = torch.autograd.grad(
        stft, [out["presence_logits"], out["perm_logits"], out["params"]], allow_unused=True)
    assert g_perm is not None and float(g_perm.abs().sum()) > 0
    assert g_params is not None and float(g_params.abs().sum()) > 0
    reached = g_presence is not None and float(g_presence.abs().sum()) > 0
    assert reached == gate_grad


def test_clip_grad_bounds_the_norm_and_keeps_the_direction():
    from ddspfx.losses import clip_grad

    w = torch.tensor([3.0, -4.0, 12.0])  # d(w . x)/dx = w, norm 13
    for max_norm, want in ((1.0, w / 13.0), (100.0, w), (0.0, w)):
        x = torch.zeros(3, requires_grad=True)
        y = clip_grad(x, max_norm)
        torch.testing.assert_close(y.detach(), x.detach())
        (y * w).sum().backward()
        torch.testing.assert_close(x.grad, want)


# --- config ---------------------------------------------------------------------------------


def test_config_overrides_and_errors(tmp_path):
    c = load_config("debug", ["--model.d_model", "48", "--loss.stft=0.25", "--trainer.log_audio", "false"])
    assert (c.model.d_model, c.loss.stft, c.trainer.log_audio) == (48, 0.25, False)
    assert c.model.n_heads == 2  # from debug.yaml, untouched
    with pytest.raises(DdspfxError, match="unknown config key model.dmodel"):
        load_config("debug", ["--model.dmodel", "4"])
    with pytest.raises(DdspfxError, match="must be int"):
        load_config("debug", ["--model.d_model", "wide"])
    p = tmp_path / "mine.yaml"
    p.write_text("base: debug\nmodel:\n  frontend:\n    n_mels: 40\n")
    c = load_config(str(p))
    assert c.model.frontend.n_mels == 40 and c.model.d_model == 32
    with pytest.raises(DdspfxError, match="neither a shipped config"):
        load_config(str(tmp_path / "missing.yaml"))


# --- checkpoints ----------------------------------------------------------------------------


def test_checkpoint_round_trip(model, tmp_path):
    from ddspfx.checkpoint import load_model, save_model

    path, side = save_model(model, tmp_path / "m.safetensors", metrics={"val/chain_acc": 0.5})
    assert path.is_file() and side.is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
    loaded = load_model(path)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v, rtol=0, atol=0)
    x = audio(2, 0.5, seed=11)
    a, b = model.predict(x, beam=2), loaded.predict(x, beam=2)
    assert [p.ids for p in a] == [p.ids for p in b]
    meta = json.loads(side.read_text())
    assert meta["metrics"]["val/chain_acc"] == 0.5
    card = (tmp_path / "m_card.md").read_text()
    assert meta["sha256"] in card and "val/chain_acc: 0.5" in card


def test_checkpoint_without_effect_set_keeps_the_decoder_choice(model, tmp_path):
    """Sidecars written before ``model.effect_set`` existed decoded with the token decoder's set: keep that."""
    from ddspfx.checkpoint import load_model, save_model

    path, side = save_model(model, tmp_path / "m.safetensors")
    meta = json.loads(side.read_text())
    assert meta["model"]["effect_set"] == "presence"  # today's default is recorded
    assert load_model(path).config.effect_set == "presence"
    del meta["model"]["effect_set"]
    side.write_text(json.dumps(meta))
    assert load_model(path).config.effect_set == "decoder"


def test_checkpoint_errors_are_one_line(model, tmp_path):
    from ddspfx.checkpoint import load_model, save_model

    with pytest.raises(DdspfxError, match="not found") as e:
        load_model(tmp_path / "nope.safetensors")
    assert "\n" not in str(e.value)
    path, side = save_model(model, tmp_path / "m.safetensors")
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) // 2]))  # truncated download
    with pytest.raises(DdspfxError, match="corrupt|does not match") as e:
        load_model(path)
    assert "\n" not in str(e.value)
    meta = json.loads(side.read_text())
    meta.pop("sha256")
    side.write_text(json.dumps(meta))
    with pytest.raises(DdspfxError, match="corrupt") as e:
        load_model(path)
    assert "\n" not in str(e.value)
    path, side = save_model(model, tmp_path / "v.safetensors")
    meta = json.loads(side.read_text())
    meta["vocab"]["size"] += 1
    side.write_text(json.dumps(meta))
    with pytest.raises(DdspfxError, match="different pedal vocabulary"):
        load_model(path)
    side.write_text("{not json")
    with pytest.raises(DdspfxError, match="not valid JSON"):
        load_model(path)


def test_presence_effect_set_decoding_uses_the_heads_set(model, monkeypatch):
    """effect_set="presence": the decoded chain holds exactly the presence head's effects (> 0.5)."""
    x = audio(3, 0.5, seed=11)
    wanted = [{"reverb"}, set(), {"eq", "distortion", "delay", "chorus"}]
    logits = torch.full((3, len(EFFECT_NAMES)), -3.0)
    for i, effects in enumerate(wanted):
        for e in effects:
            logits[i, EFFECT_NAMES.index(e)] = 2.0
    heads = model.heads.forward

    def fixed_presence(memory, mask):
        out = heads(memory, mask)
        out["presence_logits"] = logits
        return out

    monkeypatch.setattr(model.heads, "forward", fixed_presence)
    for p, want in zip(model.predict(x, beam=3, effect_set="presence"), wanted):
        assert set(p.chain.effects) == want
        assert all(set(a.effects) == want for a, _ in p.alternatives)  # other orders of the same set
    free = model.predict(x, beam=3, effect_set="decoder")
    assert [set(p.chain.effects) for p in free] != wanted  # the untrained decoder alone does not find these sets
    with pytest.raises(ValueError, match="effect_set"):
        model.predict(x, effect_set="both")


def test_long_config_is_the_default_trained_longer():
    """The shipped model's recipe (configs/long.yaml) inherits the CPU default; only the trainer's budget differs."""
    from ddspfx.config import CONFIG_NAMES

    default, long = load_config("default").to_dict(), load_config("long").to_dict()
    assert "long" in CONFIG_NAMES
    assert {k: v for k, v in long.items() if k != "trainer"} == {k: v for k, v in default.items() if k != "trainer"}
    assert long["trainer"]["max_time_min"] > default["trainer"]["max_time_min"]
    assert long["trainer"]["threads"] == default["trainer"]["threads"] == 1
