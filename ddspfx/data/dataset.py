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
import soundfile as sf
import torch
from torch.utils.data import Dataset

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.chain import Chain
from ddspfx.data.layout import read_labels
from ddspfx.data.recipe import Recipe, stream
from ddspfx.errors import DdspfxError
from ddspfx.frontends.dac_cache import load_codes
from ddspfx.plugins.render import PluginFault, draw_plugin_pedals, plugin_labels, render_mixed_chain
from ddspfx.recording import apply_recording, draw_recording
from ddspfx.render import PEAK_CEILING, render_chain
from ddspfx.sampler import ChainSampler, SamplerConfig
from ddspfx.sources import make_source
from ddspfx.sources.base import MixSource
from ddspfx.sources.procedural import DESCRIPTORS, draw_guitar, guitar_descriptors
from ddspfx.sources.tone import add_noise_floor, apply_room, apply_tone, random_room, random_tone_stage
from ddspfx.targets import chain_targets
from ddspfx.variants import render_randomised
from ddspfx.vocab import PedalVocab


def example_seed(seed: int, index: int) -> int:
    """The 63-bit seed of example ``index``: ``np.random.default_rng(example_seed(s, i))`` regenerates it."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, np.uint64)[0] >> np.uint64(1))


@dataclass
class RenderedExample:
    """One rendered example before it becomes tensors."""

    dry: np.ndarray  # (T,) float32
    wet: np.ndarray  # (T,) float32
    chain: Chain
    output_gain: float
    seed: int
    unlabelled: frozenset[tuple[str, str]] = frozenset()  # (effect, knob) pairs whose value the clip does not tell
    proxy_exact: bool = True  # False when a pedal was rendered by a design the proxies do not reproduce
    pair: "RenderedExample | None" = None  # the same chain on a second guitar (``Recipe.pair``)
    source_index: int = 0  # which part of a ``mix:`` source played the dry (0 outside a mix)
    guitar_id: int = -1  # the procedural virtual guitar that played it (ddspfx.sources.procedural); -1: another source


def draw_dry(source: Any, rng: np.random.Generator, duration_s: float) -> tuple[np.ndarray, int, int]:
    """``source.sample(rng, duration_s)`` and who played it: (clip, mix part index or 0, procedural guitar id or -1).

    The same draws as ``sample`` (a mix's part choice, then the part's own), so the clip does not change; the
    labels feed the guitar-identity adversary (``ddspfx.adversary``).
    """
    index = 0
    if isinstance(source, MixSource):  # MixSource.sample's own draw of the part
        index = int(rng.choice(len(source.sources), p=source.weights))
        source = source.sources[index]
    with_id = getattr(source, "sample_with_id", None)  # procedural sources name the guitar they drew
    if with_id is not None:
        clip, gid = with_id(rng, duration_s)
        return clip, index, int(gid)
    return source.sample(rng, duration_s), index, -1


def source_fields(source_index: int, guitar_id: int, suffix: str = "") -> dict[str, torch.Tensor]:
    """The item fields that say who played the dry: ``source_index`` and ``guitar_id`` int64 (), and
    ``guitar_descriptors`` float32 (D,) (:func:`ddspfx.sources.procedural.guitar_descriptors`; zeros when
    ``guitar_id`` is -1, i.e. not a procedural guitar)."""
    desc = guitar_descriptors(draw_guitar(guitar_id)) if guitar_id >= 0 else np.zeros(len(DESCRIPTORS), np.float32)
    return {f"source_index{suffix}": torch.tensor(int(source_index), dtype=torch.int64),
            f"guitar_id{suffix}": torch.tensor(int(guitar_id), dtype=torch.int64),
            f"guitar_descriptors{suffix}": torch.from_numpy(desc)}


def _dry_clip(source: Any, rng: np.random.Generator, seed: int, duration_s: float, sample_rate: int,
              recipe: Recipe) -> tuple[np.ndarray, int, int]:
    """The dry guitar of one example: the source's clip, then the augmentations that belong to the guitar; and
    who played it (:func:`draw_dry`)."""
    clip, source_index, guitar_id = draw_dry(source, rng, duration_s)
    dry = np.asarray(clip, dtype=np.float32)
    tone_rng = stream(seed, "dry_tone")
    if recipe.dry_tone > 0.0 and tone_rng.random() < recipe.dry_tone:
        dry = apply_tone(dry, random_tone_stage(tone_rng), sample_rate)
    room_rng = stream(seed, "room")
    if recipe.room > 0.0 and room_rng.random() < recipe.room:
        dry = apply_room(dry, random_room(room_rng), sample_rate, room_rng)
    noise_rng = stream(seed, "noise_floor")
    if recipe.noise_floor > 0.0 and noise_rng.random() < recipe.noise_floor:
        dry = add_noise_floor(dry, noise_rng, sample_rate)
    return dry, source_index, guitar_id


def _render(dry: np.ndarray, chain: Chain, seed: int, sample_rate: int, recipe: Recipe
            ) -> tuple[np.ndarray, float, Chain, frozenset[tuple[str, str]], bool]:
    """(wet, output_gain, labelled chain, unlabelled knobs, proxy_exact) of ``chain`` on ``dry`` under ``recipe``.

    Pure in (dry, chain, seed): the second guitar of a pair gets the same implementations as the first.
    """
    if recipe.plugin_render > 0.0:
        steps = draw_plugin_pedals(stream(seed, "plugin_render"), chain, recipe.plugin_render, recipe.plugin_exclude)
        if any(s is not None for s in steps):
            try:
                wet, gain = render_mixed_chain(dry, chain, steps, sample_rate)
            except PluginFault as fault:  # rare and not reproducible: keep the clip, rendered as below
                warnings.warn(f"example seed {seed}: {fault}; this clip falls back to pedalboard", stacklevel=2)
            else:
                labels = plugin_labels(chain, steps)
                return wet, gain, labels.chain, labels.unlabelled, False
    if recipe.render_variants > 0.0:
        wet, gain = render_randomised(dry, chain, sample_rate, recipe.render_variants, stream(seed, "render_variants"))
    else:
        wet, gain = render_chain(dry, chain, sample_rate)
    return wet, gain, chain, frozenset(), True


def _recorded(wet: np.ndarray, seed: int, sample_rate: int, recipe: Recipe) -> np.ndarray:
    """The wet clip as a recording hears it: its own character after the pedals, with no label."""
    rng = stream(seed, "recording")
    if recipe.recording > 0.0 and rng.random() < recipe.recording:
        wet = np.asarray(apply_recording(wet, sample_rate, draw_recording(rng)), dtype=np.float32)
        peak = float(np.max(np.abs(wet))) if wet.size else 0.0
        if peak > PEAK_CEILING:  # the character may lift a peak: the clip stays under the render's ceiling
            wet = wet * np.float32(PEAK_CEILING / peak)
    return wet


def generate_example(source: Any, seed: int, duration_s: float, sample_rate: int, recipe: Recipe | None = None,
                     sampler: ChainSampler | None = None) -> RenderedExample:
    """Source clip -> random chain -> reference render, each draw from its own stream of ``seed`` (see
    :mod:`ddspfx.data.recipe`).

    The guitar's own augmentations (tone stage, little room, noise floor) change the dry clip and no label.
    Other designs (``render_variants``) and third-party plugins (``plugin_render``; the effect types and
    their order stay labelled, knobs only where the plugin's knob means the catalog's, the rest go into
    ``RenderedExample.unlabelled``) change how the chain is rendered. A recording's own character (``recording``)
    changes the wet clip after the pedals, with no label. With ``pair``, a second guitar (the source's
    clip of another stream: another phrase, and another guitar where the source draws them) plays the same
    chain with the same implementations. ``sampler`` is ``ChainSampler(recipe.sampler)``, passed to reuse one.
    """
    recipe = recipe or Recipe()
    sampler = sampler or ChainSampler(recipe.sampler)
    rng = np.random.default_rng(seed)
    dry, source_index, guitar_id = _dry_clip(source, rng, seed, duration_s, sample_rate, recipe)
    chain = sampler.sample(rng, dry, sample_rate)
    wet, gain, labelled, unlabelled, exact = _render(dry, chain, seed, sample_rate, recipe)
    example = RenderedExample(dry, _recorded(wet, seed, sample_rate, recipe), labelled, gain, seed, unlabelled, exact,
                              source_index=source_index, guitar_id=guitar_id)
    if recipe.pair:
        pair_seed = int(stream(seed, "pair").integers(2**62))
        dry2, index2, id2 = _dry_clip(source, np.random.default_rng(pair_seed), pair_seed, duration_s, sample_rate,
                                      recipe)
        wet2, gain2, *_ = _render(dry2, chain, seed, sample_rate, recipe)
        example.pair = RenderedExample(dry2, _recorded(wet2, pair_seed, sample_rate, recipe), labelled, gain2, pair_seed,
                                       unlabelled, exact, source_index=index2, guitar_id=id2)
    return example


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
                 sample_rate: int = SAMPLE_RATE, recipe: Recipe | None = None) -> None:
        if n < 0:
            raise DdspfxError(f"dataset size must be >= 0, got {n}")
        self.recipe = recipe or Recipe()
        self.source_spec = source_spec
        self.n = int(n)
        self.seed = int(seed)
        self.duration_s = float(duration_s)
        self.sample_rate = int(sample_rate)
        self.vocab = PedalVocab()
        self._source: Any = None
        self._sampler = ChainSampler(self.recipe.sampler)
        self._folder: _FolderIndex | None = None
        self._dac_hash: str | None = None

    @property
    def sampler_config(self) -> SamplerConfig:
        return self.recipe.sampler

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
                self._source = make_source(self.source_spec, sample_rate=self.sample_rate)
            else:
                self._source = self.source_spec
        return self._source

    def __len__(self) -> int:
        return self.n

    def example(self, index: int) -> RenderedExample:
        """The raw example ``index`` (generated, not read from a folder)."""
        if not 0 <= index < self.n:
            raise IndexError(f"example {index} outside 0..{self.n - 1}")
        return generate_example(self.source, example_seed(self.seed, index), self.duration_s, self.sample_rate,
                                self.recipe, self._sampler)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self._folder is not None:
            return self._read(self._folder, index)
        ex = self.example(int(index))
        item = make_item(ex.dry, ex.wet, ex.chain, ex.output_gain, self.vocab, ex.unlabelled, ex.proxy_exact)
        item.update(source_fields(ex.source_index, ex.guitar_id))
        if ex.pair is not None:  # the same chain on a second guitar: its audio and who played it; the labels are the same
            item["dry_pair"] = torch.from_numpy(np.ascontiguousarray(ex.pair.dry, dtype=np.float32))
            item["wet_pair"] = torch.from_numpy(np.ascontiguousarray(ex.pair.wet, dtype=np.float32))
            item.update(source_fields(ex.pair.source_index, ex.pair.guitar_id, "_pair"))
        return item

    def _read(self, folder: _FolderIndex, index: int) -> dict[str, Any]:
        rec = folder.records[index]
        dry, sr_d = sf.read(folder.root / rec["dry"], dtype="float32", always_2d=False)
        wet, sr_w = sf.read(folder.root / rec["wet"], dtype="float32", always_2d=False)
        if sr_d != rec["sample_rate"] or sr_w != rec["sample_rate"]:
            raise DdspfxError(f"example {rec['id']}: wav sample rate differs from labels.jsonl; regenerate the folder")
        item = make_item(dry, wet, Chain.from_list(rec["chain"]), float(rec["output_gain"]), self.vocab)
        if "guitar_id" in rec:  # folders made before the guitar labels existed lack them (no adversary on those)
            item.update(source_fields(int(rec.get("source_index", 0)), int(rec["guitar_id"])))
        if self._dac_hash:
            codes = load_codes(folder.root, rec["id"], self._dac_hash)
            if codes is not None:
                item["dac_codes"] = torch.from_numpy(codes.astype(np.int64))
        return item
