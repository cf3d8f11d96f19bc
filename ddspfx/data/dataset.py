"""EffectsDataset: (dry, wet, labels) examples, generated on the fly or read from a materialised folder.

Example ``i`` of a generated dataset depends only on ``(seed, i)`` (its own ``np.random.Generator``
from :func:`example_seed`), never on worker ids or call order, so DataLoader workers, reruns and
``python -m ddspfx.data make`` all produce the same example ``i``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.chain import Chain
from ddspfx.data.layout import read_labels
from ddspfx.errors import DdspfxError
from ddspfx.render import render_chain
from ddspfx.sampler import ChainSampler, SamplerConfig
from ddspfx.targets import chain_targets
from ddspfx.vocab import PedalVocab


def example_seed(seed: int, index: int) -> int:
    """The 63-bit seed of example ``index``: ``np.random.default_rng(example_seed(s, i))`` regenerates it."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, np.uint64)[0] >> np.uint64(1))


@dataclass
class Example:
    """One rendered example before it becomes tensors."""

    dry: np.ndarray  # (T,) float32
    wet: np.ndarray  # (T,) float32
    chain: Chain
    output_gain: float
    seed: int
    unlabelled: frozenset[tuple[str, str]] = frozenset()  # (effect, knob) pairs whose value the clip does not tell
    proxy_exact: bool = True  # False when a pedal was rendered by a design the proxies do not reproduce


def generate_example(source: Any, sampler: ChainSampler, seed: int, duration_s: float, sample_rate: int,
                     render_variants: float = 0.0, dry_tone: float = 0.0, noise_floor: float = 0.0,
                     plugin_render: float = 0.0, plugin_exclude: tuple[str, ...] = (), room: float = 0.0) -> Example:
    """Source clip -> random chain -> pedalboard render, all from one seeded generator.

    With ``render_variants`` > 0 each pedal is rendered by another design of its type with that
    probability (:mod:`ddspfx.variants`), drawn from a second generator, so the dry clip and the chain
    of example ``i`` are the same as without. With ``dry_tone`` > 0 the dry clip goes through a random
    tone stage (:mod:`ddspfx.sources.tone`) with that probability, drawn from a third generator: it is
    part of the guitar, so the labels do not change. With ``noise_floor`` > 0 the dry clip gets a
    recording's hum and hiss (:func:`ddspfx.sources.tone.noise_floor`) with that probability, from a
    fourth generator; the labels do not change either. With ``plugin_render`` > 0 each pedal is rendered
    by a third-party LADSPA plugin of its type with that probability (:mod:`ddspfx.plugins`; not those
    whose name starts with an entry of ``plugin_exclude``), from a fifth generator: the effect types and
    their order stay labelled, knobs only where the plugin's knob means the catalog's (the rest go into
    ``Example.unlabelled``). With ``room`` > 0 the dry clip is heard in a little room (a close microphone:
    :func:`ddspfx.sources.tone.random_room`, reverberation times below every catalog reverb's) with that
    probability, from a sixth generator, after the tone stage and before the noise floor; no pedal made it.
    """
    rng = np.random.default_rng(seed)
    dry = np.asarray(source.sample(rng, duration_s), dtype=np.float32)
    if dry_tone > 0.0:
        tone_rng = np.random.default_rng([seed, 2])
        if tone_rng.random() < dry_tone:
            from ddspfx.sources.tone import apply_tone, random_tone

            dry = apply_tone(dry, random_tone(tone_rng), sample_rate)
    if room > 0.0:
        room_rng = np.random.default_rng([seed, 6])
        if room_rng.random() < room:
            from ddspfx.sources.tone import apply_room, random_room

            dry = apply_room(dry, random_room(room_rng), sample_rate, room_rng)
    if noise_floor > 0.0:
        noise_rng = np.random.default_rng([seed, 3])
        if noise_rng.random() < noise_floor:
            from ddspfx.sources.tone import add_noise_floor

            dry = add_noise_floor(dry, noise_rng, sample_rate)
    chain = sampler.sample(rng, dry, sample_rate)
    if plugin_render > 0.0:
        from ddspfx.plugins.render import PluginFault, draw_plugin_pedals, plugin_labels, render_mixed_chain

        steps = draw_plugin_pedals(np.random.default_rng([seed, 4]), chain, plugin_render, plugin_exclude)
        if any(s is not None for s in steps):
            try:
                wet, gain = render_mixed_chain(dry, chain, steps, sample_rate)
            except PluginFault as fault:  # rare and not reproducible: keep the clip, rendered as below
                warnings.warn(f"example seed {seed}: {fault}; this clip falls back to pedalboard", stacklevel=2)
            else:
                labels = plugin_labels(chain, steps)
                return Example(dry, wet, labels.chain, gain, seed, labels.unlabelled, proxy_exact=False)
    if render_variants > 0.0:
        from ddspfx.variants import render_randomised

        wet, gain = render_randomised(dry, chain, sample_rate, render_variants, np.random.default_rng([seed, 1]))
    else:
        wet, gain = render_chain(dry, chain, sample_rate)
    return Example(dry, wet, chain, gain, seed)


def make_item(dry: np.ndarray, wet: np.ndarray, chain: Chain, output_gain: float, vocab: PedalVocab,
              unlabelled: frozenset[tuple[str, str]] = frozenset(), proxy_exact: bool = True) -> dict[str, Any]:
    """The dict every consumer of the dataset reads (see ``ddspfx.data`` docstring for keys and shapes).

    ``unlabelled`` knobs are left out of every knob loss: their parameter target is masked and their bin
    token is not a cross-entropy target (``token_supervised`` False). ``proxy_exact`` False keeps the clip
    out of the proxy (MR-STFT) term, whose proxies render pedalboard's designs only.
    """
    item: dict[str, Any] = {
        "dry": torch.from_numpy(np.ascontiguousarray(dry, dtype=np.float32)),
        "wet": torch.from_numpy(np.ascontiguousarray(wet, dtype=np.float32)),
        "tokens": torch.tensor(vocab.encode(chain), dtype=torch.int64),
        "token_supervised": torch.tensor(vocab.supervised(chain, unlabelled), dtype=torch.bool),
    }
    item.update(chain_targets(chain, unlabelled=unlabelled))
    item["output_gain"] = torch.tensor(output_gain, dtype=torch.float32)
    item["proxy_exact"] = torch.tensor(proxy_exact)
    item["chain"] = chain.to_json()
    return item


@dataclass
class _FolderIndex:
    root: Path
    records: list[dict[str, Any]] = field(default_factory=list)


class EffectsDataset(Dataset):
    """Map-style dataset of (dry, wet, chain) examples.

    ``source_spec`` is a :func:`ddspfx.sources.make_source` spec ("synth", "folder:PATH", ...) or any
    object with ``sample(rng, duration_s) -> (T,)`` (tests pass tiny ones). Generated lazily, so a
    DataLoader worker builds its own source after being forked or spawned.
    """

    def __init__(self, source_spec: Any = "synth", n: int = 10_000, seed: int = 0, duration_s: float = 2.0,
                 sample_rate: int = SAMPLE_RATE, sampler: SamplerConfig | None = None,
                 render_variants: float = 0.0, dry_tone: float = 0.0, noise_floor: float = 0.0,
                 plugin_render: float = 0.0, plugin_exclude: tuple[str, ...] = (), room: float = 0.0) -> None:
        if n < 0:
            raise DdspfxError(f"dataset size must be >= 0, got {n}")
        for name, p in (("render_variants", render_variants), ("dry_tone", dry_tone), ("noise_floor", noise_floor),
                        ("plugin_render", plugin_render), ("room", room)):
            if not 0.0 <= p <= 1.0:
                raise DdspfxError(f"{name} is a probability in [0, 1], got {p}")
        self.render_variants = float(render_variants)
        self.dry_tone = float(dry_tone)
        self.noise_floor = float(noise_floor)
        self.plugin_render = float(plugin_render)
        self.plugin_exclude = tuple(plugin_exclude)
        self.room = float(room)
        self.source_spec = source_spec
        self.n = int(n)
        self.seed = int(seed)
        self.duration_s = float(duration_s)
        self.sample_rate = int(sample_rate)
        self.sampler_config = sampler or SamplerConfig()
        self.vocab = PedalVocab()
        self._source: Any = None
        self._sampler = ChainSampler(self.sampler_config)
        self._folder: _FolderIndex | None = None
        self._dac_hash: str | None = None

    @classmethod
    def from_folder(cls, root: str | Path, dac_weights_hash: str | None = None) -> "EffectsDataset":
        """Read a folder written by ``python -m ddspfx.data make`` (labels.jsonl + wavs).

        With ``dac_weights_hash``, items also carry ``"dac_codes"`` (n_q, F) int64 from the
        cache written by ``python -m ddspfx.data encode --frontend dac DIR``, when present.
        """
        root = Path(root)
        records = sorted(read_labels(root), key=lambda r: int(r["id"]))
        if not records:
            raise DdspfxError(f"{root} has no examples in labels.jsonl; create it with 'python -m ddspfx.data make --out {root} --n N'")
        ds = cls(source_spec=None, n=len(records), sample_rate=int(records[0]["sample_rate"]))
        ds._folder = _FolderIndex(root, records)
        ds._dac_hash = dac_weights_hash
        return ds

    @property
    def source(self) -> Any:
        if self._source is None:
            if isinstance(self.source_spec, str):
                from ddspfx.sources import make_source

                self._source = make_source(self.source_spec, sample_rate=self.sample_rate)
            else:
                self._source = self.source_spec
        return self._source

    def __len__(self) -> int:
        return self.n

    def example(self, index: int) -> Example:
        """The raw example ``index`` (generated, not read from a folder)."""
        if not 0 <= index < self.n:
            raise IndexError(f"example {index} outside 0..{self.n - 1}")
        return generate_example(self.source, self._sampler, example_seed(self.seed, index), self.duration_s, self.sample_rate,
                                self.render_variants, self.dry_tone, self.noise_floor, self.plugin_render,
                                self.plugin_exclude, self.room)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self._folder is not None:
            return self._read(self._folder, index)
        ex = self.example(int(index))
        return make_item(ex.dry, ex.wet, ex.chain, ex.output_gain, self.vocab, ex.unlabelled, ex.proxy_exact)

    def _read(self, folder: _FolderIndex, index: int) -> dict[str, Any]:
        import soundfile as sf

        rec = folder.records[index]
        dry, sr_d = sf.read(folder.root / rec["dry"], dtype="float32", always_2d=False)
        wet, sr_w = sf.read(folder.root / rec["wet"], dtype="float32", always_2d=False)
        if sr_d != rec["sample_rate"] or sr_w != rec["sample_rate"]:
            raise DdspfxError(f"example {rec['id']}: wav sample rate differs from labels.jsonl; regenerate the folder")
        item = make_item(dry, wet, Chain.from_list(rec["chain"]), float(rec["output_gain"]), self.vocab)
        if self._dac_hash:
            from ddspfx.frontends.dac_cache import load_codes

            codes = load_codes(folder.root, rec["id"], self._dac_hash)
            if codes is not None:
                item["dac_codes"] = torch.from_numpy(codes.astype(np.int64))
        return item
