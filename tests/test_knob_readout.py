"""The decoder-bins knob readout changes knob values only, and reads each as its bins' median."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddspfx.catalog import bin_distribution_median, get_effect, normalise
from ddspfx.checkpoint import load_model
from ddspfx.errors import DdspfxError


def test_bins_readout_keeps_the_pedals_and_reads_the_bin_median(tiny_checkpoint):
    model = load_model(tiny_checkpoint)
    model.presence_thresholds = torch.zeros_like(model.presence_thresholds)  # an untrained model names pedals too
    x = torch.from_numpy((0.1 * np.random.default_rng(0).standard_normal((3, 8000))).astype(np.float32))
    head = model.predict(x, beam=1)
    model.config.knob_readout = "bins"
    bins = model.predict(x, beam=1)
    assert any(p.chain.pedals for p in bins)
    for i, (a, b) in enumerate(zip(head, bins)):
        assert a.chain.effects == b.chain.effects and a.ids == b.ids
        if not b.chain.pedals:
            continue
        with torch.no_grad():
            memory, mask = model.encode(x[i:i + 1])
            logits = model.decoder(torch.tensor([b.ids[:-1]]), memory, mask).float()[0]  # (L-1, V)
        pedal = b.chain.pedals[0]  # ids: <bos> <pedal> bin bin ... : knob k's bin is predicted at position 1 + k
        for k, p in enumerate(get_effect(pedal.effect).params):
            allowed = [model.vocab.param_id(pedal.effect, p.name, j) for j in range(p.bins)]
            expected = bin_distribution_median(torch.softmax(logits[1 + k, allowed], -1).numpy())
            assert normalise(pedal.params[p.name], p) == pytest.approx(expected, abs=1e-6)
    model.config.knob_readout = "mean"
    with pytest.raises(DdspfxError, match="knob_readout"):
        type(model)(model.config)


def test_the_batched_bins_readout_reads_every_pedal_of_every_clip_as_one_clip_alone(tiny_checkpoint):
    """Sequences of different lengths read in one padded pass give, pedal by pedal and knob by knob, the values of a
    plain teacher-forced pass on each sequence alone (a chain without pedals has none)."""
    from ddspfx.catalog import denormalise_params
    from ddspfx.chain import Chain, Pedal

    model = load_model(tiny_checkpoint).eval()
    x = torch.from_numpy((0.1 * np.random.default_rng(1).standard_normal((3, 8000))).astype(np.float32))
    chains = [Chain([Pedal(e, denormalise_params(e, np.full(len(get_effect(e).params), 0.3))) for e in effects])
              for effects in (["delay", "eq", "compressor"], [], ["reverb"])]
    seqs = [model.vocab.encode(c) for c in chains]
    with torch.no_grad():
        memory, mask = model.encode(x)
        many = model.bin_medians_many(seqs, model.decoder.init_cache(memory, mask))
        for i, (chain, ids) in enumerate(zip(chains, seqs)):
            logits = model.decoder(torch.tensor([ids[:-1]]), memory[i:i + 1], mask[i:i + 1]).float()[0]  # (L-1, V)
            assert set(many[i]) == set(chain.effects)
            pos = 1  # knob k of a pedal opened at position pos - 1 is predicted at pos + k
            for pedal in chain:
                knobs = get_effect(pedal.effect).params
                for k, p in enumerate(knobs):
                    allowed = [model.vocab.param_id(pedal.effect, p.name, j) for j in range(p.bins)]
                    want = bin_distribution_median(torch.softmax(logits[pos + k, allowed], -1).numpy())
                    assert many[i][pedal.effect][k] == pytest.approx(want, abs=1e-5)
                pos += len(knobs) + 2
