"""``predict``'s fast paths give what the plain paths give (issue 30, speed): chains read from the effect order
against ``vocab.decode`` with the head's values, and predict in training mode against eval mode."""

from __future__ import annotations

import random

import pytest
import torch

from ddspfx.catalog import MAX_PARAMS, SAMPLE_RATE
from ddspfx.config import FrontEndConfig, ModelConfig
from ddspfx.model import DdspfxModel
from ddspfx.vocab import PedalVocab

torch.set_num_threads(1)


def random_walk(vocab: PedalVocab, rng: random.Random, only: frozenset[str] | None) -> list[list[int]]:
    """Every prefix of one random valid sequence (each token drawn from the grammar's own allowed ids)."""
    seq, prefixes = [vocab.bos_id], []
    while True:
        prefixes.append(list(seq))
        allowed = sorted(vocab.allowed_next(seq, only))
        if not allowed:
            return prefixes
        seq.append(rng.choice(allowed))


@pytest.fixture(scope="module")
def model() -> DdspfxModel:
    fe = FrontEndConfig(n_mels=32, n_fft=1024, hop=512, stack=2)
    cfg = ModelConfig(d_model=32, n_heads=2, enc_layers=1, dec_layers=2, head_layers=1, ff_mult=2, dropout=0.0,
                      frontend=fe)
    torch.manual_seed(0)
    return DdspfxModel(cfg, clip_seconds=0.5).eval()


def test_chains_read_from_the_effect_order_are_the_decoded_chains(model: DdspfxModel) -> None:
    rng = random.Random(2)
    params = torch.rand(len(model.effects), MAX_PARAMS, generator=torch.Generator().manual_seed(3))
    for _ in range(50):
        ids = random_walk(model.vocab, rng, None)[-1]
        want = model.with_head_values(model.vocab.decode(ids), params)
        got = model._head_chain(model.vocab.effect_order(ids), params)
        assert got.to_list() == want.to_list()


def test_predict_in_training_mode_answers_as_in_eval_mode_and_stays_training(model: DdspfxModel) -> None:
    audio = 0.1 * torch.randn(2, SAMPLE_RATE // 2, generator=torch.Generator().manual_seed(4))
    want = model.predict(audio, beam=1)
    model.train()
    try:
        got = model.predict(audio, beam=1)
        assert all(m.training for m in model.modules())
    finally:
        model.eval()
    assert [(p.chain.to_list(), p.log_prob, p.ids) for p in got] == [(p.chain.to_list(), p.log_prob, p.ids)
                                                                     for p in want]
