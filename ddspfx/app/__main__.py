"""``python -m ddspfx.app``: the local web app (analysis page, listening test, listening report).

    python -m ddspfx.app                                   # analysis page on http://127.0.0.1:7860/
    python -m ddspfx.app --listening-test data/            # MUSHRA test over a `ddspfx.data make` folder
    python -m ddspfx.app --listening-report data/listening/ratings.sqlite   # table, plot, CSV
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from ddspfx.app.workspace import Workspace
from ddspfx.errors import CliParser, DdspfxError, cli_entry

DEFAULT_HOST = "127.0.0.1"
"""Only this machine can open the page unless ``--host`` says otherwise."""

DEFAULT_PORT = 7860
"""Gradio's usual port."""


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m ddspfx.app", description="ddspfx's local web app: analyse clips, or run a "
                  "MUSHRA listening test, or report one.")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}: this machine only; 0.0.0.0 opens it to "
                        "your network)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--checkpoint", help="model checkpoint (.safetensors); default: the shipped model")
    p.add_argument("--dry-checkpoint", help="a dry-aware model (frontend.paired) for clips uploaded with their own "
                                            "dry; default: the shipped one if there is one, else the blind model")
    p.add_argument("--recovery-model", metavar="MODEL.safetensors",
                   help="the dry-recovery network for the page's clean guitar and for refining without the dry "
                        "(default: the shipped one, if there is one)")
    p.add_argument("--max-mb", type=float, default=None, help="largest upload in MB (default 50)")
    p.add_argument("--listening-test", metavar="DIR",
                   help="run a MUSHRA listening test over DIR (a `python -m ddspfx.data make` folder, or wet/ and "
                        "dry/ folders of same-named files)")
    p.add_argument("--db", metavar="RATINGS.sqlite",
                   help="the listening test's database (default DIR/listening/ratings.sqlite)")
    p.add_argument("--trials", type=int, default=12, help="listening test: at most this many trials (default 12)")
    p.add_argument("--anchor", choices=("lowpass", "random"), default="lowpass",
                   help="listening test's low anchor: the reference low-passed at 3.5 kHz (BS.1534) or a random "
                        "chain on the dry (default lowpass)")
    p.add_argument("--refine-steps", type=int, default=150,
                   help="listening test: optimisation steps for the refined condition (default 150)")
    p.add_argument("--include-dry", action="store_true",
                   help="listening test: keep clips with no pedal (left out by default: their reference, estimate "
                        "and refined stimuli would sound the same)")
    p.add_argument("--listening-report", metavar="RATINGS.sqlite",
                   help="write the per-condition means (95 %% intervals), a plot and a CSV for a listening test")
    p.add_argument("--out", metavar="DIR", help="where --listening-report writes (default: report/ beside the database)")
    return p


def _check_args(args: argparse.Namespace) -> None:
    if args.listening_test and args.listening_report:
        raise DdspfxError("give --listening-test DIR or --listening-report DB, not both")
    if not 0 <= args.port <= 65535:
        raise DdspfxError(f"--port must be 0..65535, got {args.port}")
    if args.host != "localhost":
        try:
            ipaddress.ip_address(args.host)
        except ValueError:
            raise DdspfxError(f"--host must be an IP address such as 127.0.0.1 or 0.0.0.0 (or localhost), "
                              f"got {args.host!r}") from None
    if args.max_mb is not None and not args.max_mb > 0:
        raise DdspfxError(f"--max-mb must be positive, got {args.max_mb}")
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise DdspfxError(f"--checkpoint {args.checkpoint} does not exist; give a .safetensors file "
                          "(or leave it out for the shipped model)")
    if args.dry_checkpoint and not Path(args.dry_checkpoint).is_file():
        raise DdspfxError(f"--dry-checkpoint {args.dry_checkpoint} does not exist; give a dry-aware .safetensors file "
                          "(or leave it out for the shipped one)")
    if args.recovery_model and not Path(args.recovery_model).exists():
        raise DdspfxError(f"--recovery-model {args.recovery_model} does not exist; give a dry-recovery .safetensors "
                          "file (or leave it out for the shipped one)")
    if args.recovery_model and (args.listening_test or args.listening_report):
        raise DdspfxError("--recovery-model is for the analysis page; drop it with --listening-test or "
                          "--listening-report")
    if args.trials < 1:
        raise DdspfxError(f"--trials must be at least 1, got {args.trials}")
    if args.refine_steps < 0:
        raise DdspfxError("--refine-steps must be >= 0")
    if args.out and not args.listening_report:
        raise DdspfxError("--out is where --listening-report writes; add --listening-report DB")
    if args.include_dry and not args.listening_test:
        raise DdspfxError("--include-dry is a listening-test option; add --listening-test DIR")
    if args.db and not args.listening_test:
        raise DdspfxError("--db is the listening test's database; add --listening-test DIR")
    if args.listening_test and not Path(args.listening_test).is_dir():
        raise DdspfxError(f"--listening-test {args.listening_test} is not a folder; give the folder "
                          "`python -m ddspfx.data make --out DIR` wrote")
    if args.listening_report and not Path(args.listening_report).is_file():
        raise DdspfxError(f"--listening-report {args.listening_report} does not exist; give the ratings database "
                          "a listening test wrote")


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _check_args(args)
    if args.listening_report:
        from ddspfx.app.report import write_report  # matplotlib, for this command only: not before the flags

        out = Path(args.out) if args.out else Path(args.listening_report).resolve().parent / "report"
        summary = write_report(args.listening_report, out)
        print(summary.markdown())
        print(f"wrote {', '.join(str(p) for p in summary.files)}")
        return 0
    # Ctrl-C and a plain `kill` both stop the server through the `finally` below, which removes the
    # temporary folder (a background job starts with SIGINT ignored; SIGTERM would skip cleanup)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # a local app: no calls home
    workspace = Workspace.create()  # before gradio builds anything: its uploads go here
    try:
        if args.listening_test:
            from ddspfx.app.listening_page import serve_listening_test  # optional extra [app], after the flags

            db = Path(args.db) if args.db else Path(args.listening_test) / "listening" / "ratings.sqlite"
            serve_listening_test(workspace, args.host, args.port, args.listening_test, db, checkpoint=args.checkpoint,
                                 max_mb=args.max_mb, max_trials=args.trials, anchor=args.anchor,
                                 include_dry=args.include_dry, refine_steps=args.refine_steps, log=sys.stderr)
        else:
            from ddspfx.app.page import serve  # optional extra [app]: gradio (and torch) after the flags are checked

            serve(workspace, args.host, args.port, checkpoint=args.checkpoint, dry_checkpoint=args.dry_checkpoint,
                  max_mb=args.max_mb, recovery_model=args.recovery_model)
    except OSError as exc:
        raise DdspfxError(f"cannot start the server on {args.host}:{args.port} ({exc}); try another --port") from None
    finally:
        workspace.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
