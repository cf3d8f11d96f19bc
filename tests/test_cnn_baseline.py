"""CNN-on-mel baseline: shapes, valid decoding (against brute force), save/load, overfitting, CLI."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch

from ddspfx.baselines.cnn import CNNBaseline, CNNConfig, assign_slots, main, slot_targets
from ddspfx.catalog import EFFECT_NAMES, EFFECTS, MAX_PARAMS, SAMPLE_RATE
from ddspfx.chain import Chain, Pedal
from ddspfx.data.collate import collate
from ddspfx.data.recipe import Recipe
from ddspfx.errors import DdspfxError
from ddspfx.targets import chain_targets

SMALL = CNNConfig(channels=(8, 16), hidden=64, dropout=0.0)
N = len(EFFECT_NAMES)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    torch.manual_seed(0)


def _mid_chain(names: list[str]) -> Chain:
    return Chain([Pedal(n, {p.name: float(math.sqrt(p.low * p.high)) if p.scale == "log" else (p.low + p.high) / 2
                            for p in EFFECTS[n].params}) for n in names])


def test_shapes_and_ranges():
    model = CNNBaseline(SMALL)
    out = model(torch.randn(3, SAMPLE_RATE // 2) * 0.1)
    assert out["presence"].shape == (3, N)
    assert out["slots"].shape == (3, N, SMALL.max_effects)
    assert out["params"].shape == (3, N, MAX_PARAMS)
    params = out["params"].detach()
    assert float(params.min()) >= 0.0 and float(params.max()) <= 1.0


def test_slot_targets_by_hand():
    # delay -> eq -> compressor: delay slot 0, eq slot 1, compressor slot 2; everything else absent
    t = chain_targets(_mid_chain(["delay", "eq", "compressor"]))
    slots = slot_targets(t["order"][None], t["length"][None], 5)[0].tolist()
    expected = [-1] * N
    expected[EFFECT_NAMES.index("delay")] = 0
    expected[EFFECT_NAMES.index("eq")] = 1
    expected[EFFECT_NAMES.index("compressor")] = 2
    assert slots == expected
    empty = chain_targets(Chain())
    assert slot_targets(empty["order"][None], empty["length"][None], 5)[0].tolist() == [-1] * N


def test_hungarian_matches_brute_force():
    rng = np.random.default_rng(1)
    for k in range(0, 6):
        for _ in range(5):
            log_p = np.log(rng.dirichlet(np.ones(5), size=k)) if k else np.zeros((0, 5))
            got = assign_slots(log_p)
            best = max(itertools.permutations(range(k)), key=lambda perm: sum(log_p[r, s] for s, r in enumerate(perm)))
            assert got == list(best)


def test_decode_by_hand():
    """eq and delay present; slot logits put delay first; params 0.5 -> geometric/arithmetic mid-range."""
    model = CNNBaseline(SMALL)
    presence = torch.full((1, N), -5.0)
    slots = torch.zeros(1, N, 5)
    e, d = EFFECT_NAMES.index("eq"), EFFECT_NAMES.index("delay")
    presence[0, [e, d]] = 3.0
    slots[0, d, 0] = 4.0
    slots[0, e, 1] = 4.0
    chain = model.decode({"presence": presence, "slots": slots, "params": torch.full((1, N, MAX_PARAMS), 0.5)})[0]
    assert chain.effects == ["delay", "eq"]
    eq = chain.pedals[1].params
    assert eq["cutoff_frequency_hz"] == pytest.approx(1000.0, rel=1e-6)  # sqrt(200 * 5000)
    assert eq["gain_db"] == pytest.approx(0.0, abs=1e-9)
    assert chain.pedals[0].params["delay_seconds"] == pytest.approx(0.325)


def test_decode_always_valid():
    model = CNNBaseline(SMALL)
    g = torch.Generator().manual_seed(3)
    out = {"presence": torch.randn(300, N, generator=g) * 4, "slots": torch.randn(300, N, 5, generator=g) * 4,
           "params": torch.rand(300, N, MAX_PARAMS, generator=g)}
    out["presence"][0], out["presence"][1] = -5.0, 5.0  # an empty chain and a full one, whatever N is
    chains = model.decode(out)
    prob = torch.sigmoid(out["presence"]).numpy()
    for b, chain in enumerate(chains):
        present = [EFFECT_NAMES[i] for i in np.argsort(-prob[b], kind="stable") if prob[b, i] > 0.5][:5]
        assert sorted(chain.effects) == sorted(present)
        assert len(chain) <= 5
        Chain.from_json(chain.to_json())  # a valid chain survives its own JSON round trip
        for pedal in chain:
            for p in EFFECTS[pedal.effect].params:
                assert p.low - 1e-9 <= pedal.params[p.name] <= p.high + 1e-9
    assert any(len(c) == 5 for c in chains) and any(len(c) == 0 for c in chains)


def test_lengths_make_padding_irrelevant():
    """With ``lengths``, how much zero padding follows a clip does not matter (frames past it are masked);
    without, it does (mean/max pooling see the silence)."""
    model = CNNBaseline(SMALL).eval()
    clip = torch.randn(1, 30_000) * 0.1
    short = torch.cat([clip, torch.zeros(1, 20_000)], dim=1)
    long = torch.cat([clip, torch.zeros(1, 70_000)], dim=1)
    with torch.no_grad():
        a, b = model(short, torch.tensor([30_000])), model(long, torch.tensor([30_000]))
        ua, ub = model(short), model(long)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    assert float((ua["presence"] - ub["presence"]).abs().max()) > 1e-3


def test_save_load_round_trip(tmp_path):
    model = CNNBaseline(SMALL)
    with torch.no_grad():  # non-default BatchNorm statistics must survive too
        model.conv[1].running_mean.uniform_(-1, 1)
    model.eval()
    model.save(tmp_path)
    loaded = CNNBaseline.load(tmp_path)
    assert loaded.config == model.config
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    x = torch.randn(2, 20_000) * 0.1
    with torch.no_grad():
        a, b = model(x), loaded(x)
    for k in a:
        assert torch.equal(a[k], b[k])
    assert [c.to_json() for c in model.predict_chains(x)] == [c.to_json() for c in loaded.predict_chains(x)]
    assert not list(tmp_path.glob(".cnn*"))  # no temporary files left behind

    weights = tmp_path / "cnn.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(DdspfxError, match="SHA-256"):
        CNNBaseline.load(tmp_path)
    (tmp_path / "cnn.json").write_text("{not json")
    with pytest.raises(DdspfxError, match="not valid JSON"):
        CNNBaseline.load(tmp_path)
    with pytest.raises(DdspfxError, match="no CNN baseline"):
        CNNBaseline.load(tmp_path / "missing")


def _tiny_batch(n: int = 6, seconds: float = 0.5) -> dict:
    from ddspfx.data.dataset import EffectsDataset
    from ddspfx.sampler import SamplerConfig

    ds = EffectsDataset("synth", n=n, seed=0, duration_s=seconds, recipe=Recipe(sampler=SamplerConfig(min_effects=1, max_effects=3)))
    return collate([ds[i] for i in range(n)])


def test_overfits_a_tiny_batch():
    batch = _tiny_batch()
    model = CNNBaseline(SMALL)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    with torch.no_grad():
        first, _ = model.loss(batch)
    # 150 steps: the batch holds a 0.57-s delay in a 0.5-s clip (its echo starts after the clip ends), which the
    # presence head memorises only after 100-150 steps (100 were enough before the catalog's flanger and gate
    # draws changed the batch)
    for _ in range(150):
        loss, _ = model.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        final, terms = model.loss(batch)
    assert float(final) < 0.4 * float(first), (float(first), terms)
    # the presence head has learnt the batch: decoding recovers every clip's effect set
    truth = [sorted(Chain.from_json(c).effects) for c in batch["chain"]]
    assert [sorted(c.effects) for c in model.predict_chains(batch["wet"])] == truth


def test_cli_trains_saves_and_refuses_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--out", str(out), "--config", "debug", "--max-steps", "2", "--batch-size", "2",
            "--val-clips", "2", "--val-every", "1", "--num-workers", "0", "--no-progress"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["steps"] == 2 and 0.0 <= summary["val/micro_f1"] <= 1.0
    loaded = CNNBaseline.load(out)
    assert len(json.loads((out / "history.json").read_text())) == 3  # val at steps 1, 2 and the final one
    assert loaded.metadata["notes"]["train"]["batch_size"] == 2
    assert main(args) == 2  # refuses to overwrite
    assert "already holds" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "x"), "--batch-size", "0"]) == 2
    assert main(["bogus"]) == 2
