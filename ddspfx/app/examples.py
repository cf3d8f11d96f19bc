"""The analysis page's example clips: ddspfx's embedded synthetic guitar through known pedal chains.

A newcomer with no guitar clip at hand picks one, presses Analyse and compares the answer with the chain
that made it (the example's label). The clips are rendered on first use into the app's workspace (no
download, no held-out evaluation data): the ``synth`` source at a fixed seed, then pedalboard
(``ddspfx.render.render_chain``), so the same example sounds the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ddspfx.audio import save_audio
from ddspfx.chain import Chain
from ddspfx.render import render_chain
from ddspfx.sources import make_source


@dataclass(frozen=True)
class ExampleClip:
    """One example clip: its file stem, the seed of its dry phrase and the chain that made it wet."""

    stem: str
    seed: int
    chain: tuple[dict[str, Any], ...]
    seconds: float = 4.0  # long enough for a delay's repeats and a chorus's LFO to show

    def pedals(self) -> Chain:
        return Chain.from_list([dict(p) for p in self.chain])

    @property
    def label(self) -> str:
        """What the page shows: the true chain, so the visitor can check the answer."""
        return " → ".join(p["effect"] for p in self.chain)


EXAMPLES: tuple[ExampleClip, ...] = (
    ExampleClip("example_drive_delay", 11, (
        {"effect": "distortion", "params": {"drive_db": 24.0}},
        {"effect": "delay", "params": {"delay_seconds": 0.32, "feedback": 0.35, "mix": 0.35}},
    )),
    ExampleClip("example_chorus_reverb", 12, (
        {"effect": "chorus", "params": {"rate_hz": 1.2, "depth": 0.6, "centre_delay_ms": 7.0, "feedback": 0.1,
                                        "mix": 0.5}},
        {"effect": "reverb", "params": {"room_size": 0.8, "damping": 0.4, "wet_level": 0.4, "dry_level": 0.8}},
    )),
    ExampleClip("example_comp_phaser", 13, (
        {"effect": "compressor", "params": {"threshold_db": -30.0, "ratio": 6.0, "attack_ms": 5.0,
                                            "release_ms": 150.0}},
        {"effect": "phaser", "params": {"rate_hz": 0.6, "depth": 0.8, "centre_frequency_hz": 800.0,
                                        "feedback": 0.4, "mix": 0.5}},
    )),
)
"""Three chains a guitarist would recognise: overdrive into echoes, a chorus in a big room, a squashed phaser."""


def write_examples(folder: Path, sample_rate: int, examples: tuple[ExampleClip, ...] = EXAMPLES) -> list[Path]:
    """Render each example into ``folder/<stem>.wav`` (float32) unless it is there already; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    source = make_source("synth", sample_rate=sample_rate)
    paths = []
    for ex in examples:
        path = folder / f"{ex.stem}.wav"
        if not path.is_file():
            dry = source.sample(np.random.default_rng(ex.seed), ex.seconds)
            wet, _gain = render_chain(dry, ex.pedals(), sample_rate)
            save_audio(path, wet, sample_rate)  # atomic: a page never lists a half-written example
        paths.append(path)
    return paths
