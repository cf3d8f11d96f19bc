"""Does the model take the guitar's own tone for a pedal? Clean clips in, pedals reported out.

Why: the dry tone stage (``ddspfx.sources.tone``, ``--data.dry_tone``) is meant to teach that a darker
or fuller guitar is not an eq. This feeds *clean* clips -- the embedded synth, the synth through a
random tone stage (the training distribution of the stage, other seeds), and optionally a folder of
recorded dry guitar -- to each model and reports how often it names a pedal, and its median eq
confidence.

    python -m experiments.tone_false_alarms --compare L3=/work/runs/long3 --folder DIR --out DIR
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ddspfx.catalog import EFFECT_NAMES, SAMPLE_RATE
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.fileio import atomic_write_text
from experiments.evaluation.models import model_paths


def clean_clips(kind: str, n: int, seed: int, folder: str | None = None) -> list[np.ndarray]:
    from ddspfx.sources import make_source

    rng = np.random.default_rng(seed)
    if kind == "folder":
        src = make_source(f"folder:{folder}")
        return [src.sample(rng, 2.0) for _ in range(n)]
    src = make_source("synth")
    clips = [src.sample(rng, 2.0) for _ in range(n)]
    if kind == "toned synth":
        from ddspfx.sources.tone import apply_tone, random_tone_stage

        clips = [apply_tone(x, random_tone_stage(rng), SAMPLE_RATE) for x in clips]
    return clips


def report(model, clips: Sequence[np.ndarray]) -> dict[str, float]:
    """ood_check's clean-clip false-alarm shares of the reported chains, plus the median eq confidence."""
    from experiments.ood_check import dry_false_alarms

    with torch.no_grad():
        preds = [model.predict(torch.from_numpy(np.asarray(x, dtype=np.float32))[None], beam=1)[0] for x in clips]
    out = dry_false_alarms([p.chain for p in preds])
    out["eq_median_confidence"] = float(np.median([p.effect_confidence["eq"] for p in preds]))
    return out


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    from ddspfx.checkpoint import load_model

    ap = CliParser(prog="python -m experiments.tone_false_alarms", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="model (default: the shipped one)")
    ap.add_argument("--compare", "--model", action="append", default=[], metavar="NAME=CHECKPOINT",
                    help="another model's rows (repeatable; CHECKPOINT empty: the shipped one)")
    ap.add_argument("--folder", default=None, help="a folder of recorded dry guitar (optional)")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=760000)
    ap.add_argument("--out", default="experiments/results/tone_stage")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    main_name = "shipped" if args.checkpoint is None else "ddspfx"
    compared = model_paths(args.compare)
    if main_name in compared:
        raise DdspfxError(f"--compare {main_name!r}: that name is the --checkpoint model's (default: the shipped one); "
                          "give the compared model another name")
    systems: dict[str, str | None] = {main_name: args.checkpoint, **{n: p or None for n, p in compared.items()}}
    kinds = ["synth", "toned synth"] + (["folder"] if args.folder else [])
    data = {k: clean_clips(k, args.n, args.seed, args.folder) for k in kinds}
    results = {}
    for s, path in systems.items():
        model = load_model(path)  # once per system, not per kind
        results[s] = {k: report(model, data[k]) for k in kinds}
    cols = ["any", *EFFECT_NAMES, "eq_median_confidence"]
    lines = [f"Clean clips in ({args.n} per kind, seed {args.seed}): share where a pedal is reported, and the median eq "
             "confidence.", "", "| clean clips | system | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for k in kinds:
        for s in systems:
            lines.append(f"| {k if k != 'folder' else 'folder:' + Path(args.folder).name} | {s} | " + " | ".join(f"{results[s][k][c]:.2f}" for c in cols) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    atomic_write_text(out / "clean_false_alarms.md", text)
    atomic_write_text(out / "clean_false_alarms.json", json.dumps({"args": vars(args), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
