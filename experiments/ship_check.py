"""Apply release R8's pre-registered ship rule (``results/release_r8/ship_rule.md``) to development results.

``python -m experiments.ship_check --reference REF.json --candidate CAND.json --peaks PEAKS.json
--plugins PLUGINS.json [--model real3]``

Each file is a ``real_sources`` results.json on the development seeds: the reference's pedalboard rows (R7,
``shipped``), the candidate's pedalboard rows, the synthetic clips at fixed peak levels (both models), and the
held-out guitars on chains rendered only by the held-out plugins (both models). Prints one table: each
condition, both figures, the threshold and whether it holds; exit status 0 either way (the table decides).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ddspfx.errors import CliParser, DdspfxError, cli_entry

HELD_OUT_GUITARS: tuple[str, ...] = ("sf2:gmbank", "tonejs:electric", "tonejs:acoustic")
PEAKS_DBFS: tuple[float, ...] = (-30.0, -20.0, -10.0, 0.0)
R7_SYNTH_AT_PEAK: dict[float, float] = {-30.0: 0.732, -20.0: 0.744, -10.0: 0.822, 0.0: 0.864}
"""R7's synthetic µF1 at fixed peak levels, measured before the rule was written (real_sources/decision.md)."""


def row(results: dict[str, Any], source: str, model: str) -> dict[str, float]:
    for r in results["rows"]:
        if r["source"] == source and r["model"] == model:
            return dict(r)
    raise DdspfxError(f"no row for source {source!r}, model {model!r}; rows: "
                      f"{sorted({(r['source'], r['model']) for r in results['rows']})}")


def mean(results: dict[str, Any], model: str, key: str) -> float:
    return float(np.mean([row(results, s, model)[key] for s in HELD_OUT_GUITARS]))


def conditions(ref: dict[str, Any], cand: dict[str, Any], peaks: dict[str, Any], plugins: dict[str, Any],
               name: str, ref_name: str = "shipped") -> list[tuple[str, float, float, float, bool]]:
    """(condition, reference figure, candidate figure, threshold, holds) per condition of the R8 rule."""
    out = []
    r, c = mean(ref, ref_name, "micro_f1"), mean(cand, name, "micro_f1")
    out.append(("1. mean µF1, held-out guitars (pedalboard chains)", r, c, r + 0.02, c >= r + 0.02))
    r, c = mean(ref, ref_name, "clean_any"), mean(cand, name, "clean_any")
    out.append(("2. mean clean-clip false alarms, held-out guitars", r, c, r, c <= r))
    for s in HELD_OUT_GUITARS:
        r, c = row(ref, s, ref_name)["level_set"], row(cand, s, name)["level_set"]
        out.append((f"3. same set at 4 levels, {s}", r, c, 0.95, c >= 0.95))
    for db in PEAKS_DBFS:
        c = row(peaks, f"synth @ {db:g} dBFS peak", name)["micro_f1"]
        r = R7_SYNTH_AT_PEAK[db]
        out.append((f"4. synth µF1 at {db:g} dBFS peak (R7 re-measured: "
                    f"{row(peaks, f'synth @ {db:g} dBFS peak', ref_name)['micro_f1']:.3f})", r, c, r - 0.02, c >= r - 0.02))
    r, c = mean(plugins, ref_name, "micro_f1"), mean(plugins, name, "micro_f1")
    out.append(("5. mean µF1, held-out guitars, held-out plugins only", r, c, r + 0.02, c >= r + 0.02))
    return out


def table(rows: Sequence[tuple[str, float, float, float, bool]], name: str) -> str:
    lines = [f"| condition | R7 | {name} | needs | holds |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {r:.3f} | {c:.3f} | {'<=' if k.startswith('2.') else '>='} {t:.3f} | {'yes' if ok else '**no**'} |"
              for k, r, c, t, ok in rows]
    verdict = "ships" if all(ok for *_, ok in rows) else "does not ship"
    return "\n".join(lines) + f"\n\n**{name} {verdict}** under the R8 rule."


def build_parser() -> argparse.ArgumentParser:
    p = CliParser(prog="python -m experiments.ship_check", description=__doc__.splitlines()[0])
    for f in ("reference", "candidate", "peaks", "plugins"):
        p.add_argument(f"--{f}", required=True, help="a real_sources results.json")
    p.add_argument("--model", default="real3", help="the candidate's model name in those files")
    return p


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    files = {}
    for f in ("reference", "candidate", "peaks", "plugins"):
        path = Path(getattr(args, f))
        if not path.is_file():
            raise DdspfxError(f"--{f} {path}: no such file; run python -m experiments.real_sources first")
        files[f] = json.loads(path.read_text())
    print(table(conditions(files["reference"], files["candidate"], files["peaks"], files["plugins"], args.model),
                args.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
