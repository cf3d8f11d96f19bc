"""The decoding's fast paths give what the plain paths give (issue 30, speed): the search's grammar rows kept per
state against ``PedalVocab.allowed_mask`` walked from ``<chain>``, a beam search with them against one with the plain
masks, and ``predict``'s chains read from the effect order against ``vocab.decode`` with the head's values."""

from __future__ import annotations

import random

import pytest
import torch

from ddspfx.catalog import MAX_PARAMS, SAMPLE_RATE
from ddspfx.config import FrontEndConfig, ModelConfig
from ddspfx.model import DdspfxModel
from ddspfx.model.search import GrammarMasks, beam_search
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


@pytest.mark.parametrize("max_effects", [None, 2])
def test_grammar_rows_are_the_vocabularys_masks(max_effects: int | None) -> None:
    vocab = PedalVocab(max_effects=max_effects)
    rng = random.Random(0)
    grammar = GrammarMasks(vocab)  # one cache across walks, as across a batch's rows
    for trial in range(200):
        only = frozenset(rng.sample(vocab.effects, rng.randint(1, 3))) if trial % 3 == 0 else None
        state = grammar.start
        prefixes = random_walk(vocab, rng, only)
        for prefix, following in zip(prefixes, prefixes[1:] + [None]):
            sets = None if only is None else [only]
            assert torch.equal(grammar.rows([prefix], [state], sets), vocab.allowed_mask([prefix], sets)), prefix
            if following is not None:
                state = grammar.advance(state, following[-1])
        assert state is not None and state[0] == "done"  # the walk ends with </chain>


def test_an_unknown_state_is_walked_by_the_vocabulary() -> None:
    vocab = PedalVocab()
    grammar = GrammarMasks(vocab)
    assert grammar.advance(grammar.start, vocab.param_id("distortion", "drive_db", 0)) is None  # not allowed there
    prefix = [vocab.bos_id, vocab.effect_open_id("distortion")]
    assert torch.equal(grammar.rows([prefix], [None]), vocab.allowed_mask([prefix]))


@pytest.fixture(scope="module")
def model() -> DdspfxModel:
    fe = FrontEndConfig(n_mels=32, n_fft=1024, hop=512, stack=2)
    cfg = ModelConfig(d_model=32, n_heads=2, enc_layers=1, dec_layers=2, head_layers=1, ff_mult=2, dropout=0.0,
                      frontend=fe)
    torch.manual_seed(0)
    return DdspfxModel(cfg, clip_seconds=0.5).eval()


def plain_rows(self: GrammarMasks, prefixes, states, effect_sets=None) -> torch.Tensor:  # noqa: ANN001
    return self.vocab.allowed_mask(list(prefixes), effect_sets)


@pytest.mark.parametrize("beam", [1, 3])
@pytest.mark.parametrize("presence", [False, True])
def test_beam_search_finds_what_it_finds_with_the_plain_masks(model: DdspfxModel, beam: int, presence: bool,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    audio = 0.1 * torch.randn(4, SAMPLE_RATE // 2, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        memory, mask = model.encode(audio)
        sets = [frozenset(model.effects[i:i + 1 + i % 3]) for i in range(4)] if presence else None
        fast = beam_search(model.decoder, memory, mask, model.vocab, beam=beam, effect_sets=sets)
        monkeypatch.setattr(GrammarMasks, "rows", plain_rows)
        plain = beam_search(model.decoder, memory, mask, model.vocab, beam=beam, effect_sets=sets)
    assert [[(h.ids, h.log_prob) for h in hs] for hs in fast] == [[(h.ids, h.log_prob) for h in hs] for hs in plain]
    assert all(hs for hs in fast)


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
