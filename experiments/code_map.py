"""docs/code.md, the module map, written from the modules' own docstrings: ``python -m experiments.code_map --write``.

Why generated: a hand-kept list of modules goes stale the day a module is added, moved or re-described. Here
each line is the first sentence of the module's docstring, and the only hand-kept part is which concept a
top-level library module belongs to (:data:`LIBRARY`): :func:`code_map` refuses a module that is in no group,
and ``tests/test_code_map.py`` fails while docs/code.md differs from what this writes.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ddspfx.fileio import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "code.md"

COMMAND_LINES: tuple[str, ...] = ("ddspfx/train.py", "ddspfx/infer.py", "ddspfx/calibrate.py", "ddspfx/evaluate.py",
                                  "ddspfx/data/__main__.py", "ddspfx/app/__main__.py", "ddspfx/dry_recovery_train.py")
"""The command-line layer: each only parses its flags and calls the library."""

LIBRARY: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Pedals, chains and their settings",
     ("catalog", "chain", "knobs", "vocab", "targets", "sampler", "commuting", "audibility")),
    ("Rendering: the reference and the other implementations",
     ("render", "dsp/", "variants", "plugins/", "recording")),
    ("Dry guitar", ("sources/",)),
    ("The model", ("frontends/", "model/")),
    ("Differentiable proxies and distances", ("proxies/", "spectral")),
    ("Training", ("config", "configs/", "data/", "datamodule", "losses", "invariance", "adversary", "lightning_module",
                  "training", "run_folder", "checkpoint", "calibration", "thresholds")),
    ("Analysis: the product API", ("analysis", "estimator", "refine", "align", "guitar_check", "dry_recovery")),
    ("Evaluation", ("scoring", "metrics", "baselines/")),
    ("The app (library part)", ("app/",)),
    ("Plumbing", ("__init__", "audio", "errors", "fileio", "plots")),
)
"""Every top-level module (``name``) and subpackage (``name/``) of ddspfx, by concept; a subpackage's modules follow
it in its section. A name git does not track yet is skipped, so a module can be placed before its first commit."""

INTRO = """\
# How the code is laid out

<!-- Written by `python -m experiments.code_map --write` from each module's docstring (its first sentence);
tests/test_code_map.py fails while this file differs from what the script writes. Edit the docstrings, or the
groups in experiments/code_map.py, then re-run it. -->

Three layers, as in descript-audio-codec (`dac/__main__.py` over `dac.utils`) or encodec:

1. **The library** (`ddspfx/`): one concept per module. Everything that analyses, renders, trains or scores
   lives here, and everything else imports it from here.
2. **The command lines**: `python -m ddspfx.<verb>` modules that parse flags and call the library; nothing
   imports a command line for its classes.
3. **The studies** (`experiments/`): scripts behind the figures in README.md and docs/results.md, their outputs
   in `experiments/results/`. They share one evaluation home, `experiments/evaluation/`, and never import each
   other's harness; the package never imports `experiments/`.

The data path reads top to bottom through the library: dry source (`sources/`) -> chain sampling (`sampler`) ->
reference render (`render`) -> front end (`frontends/`) -> model (`model/`) -> proxies (`proxies/`) -> loss
(`losses`).
"""


def _tracked(folder: str) -> list[Path]:
    """The ``.py`` files git tracks under ``folder`` (a file only on one engineer's disk is not yet the map's);
    every ``.py`` file there outside a git checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "--", f"{folder}/*.py"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)
    return sorted({ROOT / f for f in out if (ROOT / f).is_file()})


def _markdown(text: str) -> str:
    """reST roles and literals as markdown code: ``:class:`~a.B``` -> `B`, ````x```` -> `x`."""
    text = re.sub(r":(?:class|func|mod|meth|data|attr):`~?([^`]*)`", lambda m: f"`{m.group(1)}`", text)
    return text.replace("``", "`").replace("|", "\\|")


def summary(path: Path) -> str:
    """``path``'s module docstring up to its first full stop (a question keeps its answer), on one line; raises if
    the module has none."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    if not doc:
        raise ValueError(f"{path.relative_to(ROOT)} has no module docstring: say in one line what it is for")
    para = " ".join(doc.strip().split("\n\n")[0].split())
    end = re.search(r"\.\s+(?=[A-Z`(])", para)  # a question's answer follows it: keep both
    return _markdown(para[: end.start() + 1] if end else para)


def _is_command(path: Path) -> bool:
    return 'if __name__ == "__main__":' in path.read_text(encoding="utf-8")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _row(path: Path, extra: str = "") -> str:
    return f"| `{path.relative_to(ROOT).as_posix()}` | {summary(path)}{extra} |"


def _table(paths: Sequence[Path], commands: bool = False) -> list[str]:
    rows = ["| module | what it is |", "|---|---|"]
    for p in paths:
        also = f" (also `python -m {_module(p)}`)" if commands and _is_command(p) else ""
        rows.append(_row(p, also))
    return rows


def library_sections(files: Sequence[Path]) -> list[str]:
    """The library's sections; raises when a top-level module or subpackage is in no group of :data:`LIBRARY`."""
    pkg = ROOT / "ddspfx"
    commands = {ROOT / c for c in COMMAND_LINES}
    placed = [name for _, names in LIBRARY for name in names]
    present = {p.stem if p.parent == pkg else p.relative_to(pkg).parts[0] + "/" for p in files if p not in commands}
    missing = sorted(present - set(placed))
    if missing:
        raise ValueError(f"ddspfx modules in no group of experiments/code_map.py's LIBRARY: {', '.join(missing)}")
    lines: list[str] = []
    for title, names in LIBRARY:
        top = [pkg / f"{n}.py" for n in names if not n.endswith("/") and pkg / f"{n}.py" in files]
        subs = [n for n in names if n.endswith("/") and n in present]
        if not top and not subs:
            continue
        lines += ["", f"### {title}"]
        if top:
            lines += ["", *_table(top, commands=True)]
        for sub in subs:
            inside = [p for p in files if p.parent == pkg / sub.rstrip("/") and p not in commands]
            init = pkg / sub / "__init__.py"
            lines += ["", f"`ddspfx/{sub}`: {summary(init) if init in files else ''}"]
            modules = [p for p in inside if p.name != "__init__.py"]
            if modules:
                lines += ["", *_table(modules, commands=True)]
    return lines


def code_map() -> str:
    """docs/code.md's text."""
    lib = _tracked("ddspfx")
    studies = _tracked("experiments")
    evaluation = [p for p in studies if p.parent.name == "evaluation"]
    lines = [INTRO, "## 1. The library: `ddspfx/`, by concept"]
    lines += library_sections(lib)
    lines += ["", "## 2. The command lines", "", "| command | module | what it does |", "|---|---|---|"]
    for c in COMMAND_LINES:
        path = ROOT / c
        if path in lib:
            lines.append(f"| `python -m {_module(path).removesuffix('.__main__')}` | `{c}` | {summary(path)} |")
    lines += ["", "## 3. The studies: `experiments/`", "",
              f"`experiments/evaluation/`: {summary(ROOT / 'experiments/evaluation/__init__.py')}",
              ""]
    lines += _table([p for p in evaluation if p.name != "__init__.py"])
    lines += ["", "The studies (`python -m experiments.NAME`):", ""]
    lines += _table([p for p in studies if p.parent == ROOT / "experiments" and p.name != "__init__.py"])
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.code_map", description=__doc__.split("\n")[0])
    p.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(ROOT)} (default: print it)")
    args = p.parse_args(argv)
    text = code_map()
    if args.write:
        atomic_write_text(OUT, text)
        print(f"wrote {OUT.relative_to(ROOT)}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
