"""``python -m ddspfx.data {make,preview,encode}`` (``ddspfx-data``): materialise, preview or encode training data.

``encode --frontend dac DIR`` precomputes DAC codes for a made folder (needs ``pip install 'ddspfx[dac]'``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from ddspfx.data.recipe import Recipe
from ddspfx.errors import CliParser, DdspfxError, cli_entry
from ddspfx.sampler import SamplerConfig
from ddspfx.sources import SPECS


def _sampler_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-effects", type=int, default=5, help="at most this many pedals per chain (default 5)")
    p.add_argument("--min-effects", type=int, default=None, help="at least this many (default 0 for make, 1 for preview)")
    p.add_argument("--order", choices=("uniform", "typical"), default="uniform", help="chain order prior (default uniform)")
    p.add_argument("--deviation", type=float, default=0.2, help="typical order: chance of a deviation (default 0.2)")
    p.add_argument("--check-audibility", action="store_true", help="redraw pedals that are inaudible on the clip")


def _sampler(args: argparse.Namespace, default_min: int) -> SamplerConfig:
    return SamplerConfig(max_effects=args.max_effects,
                         min_effects=default_min if args.min_effects is None else args.min_effects,
                         order=args.order, deviation=args.deviation, check_audibility=args.check_audibility)


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(prog="python -m ddspfx.data", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=CliParser)
    make = sub.add_parser("make", help="write dry/wet wavs and labels.jsonl (resumable)")
    make.add_argument("--out", type=Path, required=True, help="output folder")
    make.add_argument("--n", type=int, required=True, help="number of examples")
    make.add_argument("--source", default="synth", help=f"dry guitar: {' | '.join(SPECS)} (default synth)")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    make.add_argument("--seconds", type=float, default=2.0, help="clip length in seconds (default 2)")
    _sampler_args(make)
    prev = sub.add_parser("preview", help="render a few examples and a spectrogram PNG")
    prev.add_argument("--out", type=Path, default=Path("preview"), help="output folder (default ./preview)")
    prev.add_argument("--n", type=int, default=4, help="number of examples (default 4)")
    prev.add_argument("--source", default="synth", help=f"dry guitar: {' | '.join(SPECS)} (default synth)")
    prev.add_argument("--seed", type=int, default=0)
    prev.add_argument("--seconds", type=float, default=2.0)
    _sampler_args(prev)
    return parser


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "encode":  # its own parser lives with the DAC cache
        from ddspfx.frontends.dac_cache import main_encode  # why here: torch, which make and preview defer

        return main_encode(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "make":
        from ddspfx.data.materialise import write_dataset  # why here: torch loads after the flags are checked

        done = write_dataset(args.out, args.n, source=args.source, seed=args.seed, workers=args.workers,
                            seconds=args.seconds, recipe=Recipe(sampler=_sampler(args, 0)))
        print(f"{args.out}: rendered {done} new example(s); {args.n} in {args.out / 'labels.jsonl'}")
        return 0
    if not 1 <= args.n <= 32:
        raise DdspfxError(f"--n for preview must be 1..32, got {args.n}")
    if args.seconds < 0.25:
        raise DdspfxError(f"--seconds must be at least 0.25, got {args.seconds}")
    from ddspfx.data.preview import preview  # why here: torch loads after the flags are checked

    png = preview(args.out, n=args.n, source=args.source, seed=args.seed, seconds=args.seconds,
                  sampler=_sampler(args, 1))
    print(f"wrote {args.n} example(s) and {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
