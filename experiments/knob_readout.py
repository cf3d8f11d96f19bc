"""Which knob readout should the shipped model use: its parameter head, or the median of its decoder's bins?

Why: ``experiments/knob_error`` found the decoder's bin-distribution median 0.015-0.019 closer to the truth than
the parameter head whose values ship (development seeds 910,000+). This study judges the switch under the rule in
``experiments/results/knob_readout/rule.md`` (written before it ran) on fresh development seeds (920,000+): the
same clips are answered with ``model.knob_readout`` "head" and "bins" and scored by the evaluator (only the knob
values may differ: the pedals and their order come from the same search).

    python -m experiments.knob_readout [--n 300] [--seed 920000] [--sources synth,sf2:timgm6mb,sf2:gmbank]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ddspfx.chain import Chain
from ddspfx.checkpoint import load_model, provenance
from ddspfx.errors import DdspfxError, cli_entry
from ddspfx.fileio import atomic_write_text
from ddspfx.sampler import SamplerConfig
from ddspfx.scoring import LabelledClip, Scorer, baseline_systems, make_examples

RESULTS = Path(__file__).resolve().parent / "results" / "knob_readout"
READOUTS = ("head", "bins")
METRICS = (("param_error", "knob error"), ("micro_f1", "presence µF1"), ("exact_chain_acc", "exact chain"))


def answers(model: Any, examples: Sequence[LabelledClip], readout: str, batch: int = 16) -> list[Chain]:
    """The model's chains for ``examples`` with knob values read out by ``readout`` (beam 1, the shipped search)."""
    model.config.knob_readout = readout
    out: list[Chain] = []
    for s in range(0, len(examples), batch):
        wet = torch.from_numpy(np.stack([ex.wet for ex in examples[s:s + batch]]).astype(np.float32))
        out += [p.chain for p in model.predict(wet, beam=1)]
    return out


def score(examples: Sequence[LabelledClip], chains: Sequence[Chain]) -> dict[str, float]:
    sc = Scorer(rerender=False)
    for ex, chain in zip(examples, chains):
        sc.add(ex, chain)
    return sc.summary()


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="development clips per source (default 300)")
    ap.add_argument("--seed", type=int, default=920_000, help="development-seed offset (default 920000; never 0)")
    ap.add_argument("--sources", default="synth,sf2:timgm6mb,sf2:gmbank")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    if args.n < 1 or args.seed == 0:
        raise DdspfxError("--n must be >= 1 and --seed a development offset (the test seeds start at 0)")
    torch.set_num_threads(1)
    model = load_model()
    prov = provenance(model)
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for spec in filter(None, (s.strip() for s in args.sources.split(","))):
        examples = make_examples(spec, args.n, args.seed, model.clip_seconds, model.config.max_effects, "uniform",
                                 effects=model.effects)
        per = {r: answers(model, examples, r) for r in READOUTS}
        assert all(a.effects == b.effects for a, b in zip(per["head"], per["bins"])), "a readout changed the pedals"
        rows[spec] = {r: {k: float(score(examples, per[r])[k]) for k, _ in METRICS} for r in READOUTS}
        random_chain = baseline_systems(SamplerConfig(max_effects=model.config.max_effects, effects=model.effects),
                                        args.seed)["random chain"]
        for name, system in (("no pedal", lambda ex: Chain()), ("random chain", random_chain)):
            rows[spec][name] = {k: float(score(examples, [system(ex) for ex in examples])[k]) for k, _ in METRICS}
        print(spec, json.dumps(rows[spec]), file=sys.stderr, flush=True)
    lines = [f"# Knob readout: parameter head vs the decoder's bin median ({args.n} development clips per source, "
             f"seeds {20_000_000 + args.seed:,}+)", "",
             f"Model: {prov['checkpoint']} (SHA-256 `{prov['sha256']}`, trained on {prov['trained_on']}); "
             f"code: git {prov['git_commit']}. Beam 1, the shipped order search; `{' '.join(['python -m experiments.knob_readout', *(argv or sys.argv[1:])])}`.",
             "", "| source | readout (or baseline) | " + " | ".join(label for _, label in METRICS) + " |",
             "|---|---|" + "---|" * len(METRICS)]
    for spec, per_r in rows.items():
        for r in per_r:
            lines.append(f"| {spec} | {r} | " + " | ".join(f"{per_r[r][k]:.4f}" for k, _ in METRICS) + " |")
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "table.md", text)
    atomic_write_text(args.out / "results.json", json.dumps({"provenance": prov, "n": args.n, "seed": args.seed,
                                                             "rows": rows}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
