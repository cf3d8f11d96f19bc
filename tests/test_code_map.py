"""docs/code.md is the code's map: every module in it, each described by its own docstring, and the docs name
only modules and files that exist."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from experiments.code_map import OUT, ROOT, _tracked, code_map, library_sections

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / ".ci" / "run", ROOT / ".ci" / "dac.sh"]


def _in_a_clone(path: str) -> bool:
    """A named file a fresh clone has (tracked) or that the repository declares a regenerated output (ignored, like
    the per-clip dumps): existing in this working tree is not enough, CI runs on a clean clone."""
    git = ["git", "-C", str(ROOT)]
    if subprocess.run([*git, "ls-files", "--error-unmatch", path], capture_output=True).returncode == 0:
        return True
    return subprocess.run([*git, "check-ignore", "-q", path], capture_output=True).returncode == 0


def test_code_md_is_what_the_script_writes() -> None:
    assert OUT.read_text(encoding="utf-8") == code_map(), (
        "docs/code.md is stale: run python -m experiments.code_map --write (and place a new ddspfx module in a group "
        "of experiments/code_map.py's LIBRARY)")


def test_every_module_is_in_the_map() -> None:
    text = code_map()
    missing = [p.relative_to(ROOT).as_posix() for p in _tracked("ddspfx") + _tracked("experiments")
               if p.name != "__init__.py" and f"`{p.relative_to(ROOT).as_posix()}`" not in text]
    assert not missing, f"modules the map leaves out: {missing}"


def test_a_module_in_no_group_is_refused() -> None:
    with pytest.raises(ValueError, match="newconcept"):
        library_sections([*_tracked("ddspfx"), ROOT / "ddspfx" / "newconcept.py"])


def _top_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _dangling(dotted: str) -> str | None:
    """Why ``ddspfx.a.b`` (a module, or a module and a name in it) does not exist; None when it does."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:k])
        file = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if file.is_file():
            rest = parts[k:]
            if rest and rest[0] not in _top_level_names(file) and not (base / rest[0]).exists():
                return f"{dotted}: {file.relative_to(ROOT)} defines no {rest[0]}"
            return None
    return f"{dotted}: no such module"


def test_docs_name_only_modules_and_files_that_exist() -> None:
    problems = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for dotted in sorted(set(re.findall(r"\b(?:ddspfx|experiments)(?:\.[A-Za-z_]\w*)+", text))):
            if dotted.endswith((".py", ".md", ".json", ".yaml")) or dotted == "experiments.NAME":
                continue
            why = _dangling(dotted)
            if why:
                problems.append(f"{doc.name}: {why}")
        for path in sorted(set(re.findall(r"(?<![\w./])(?:ddspfx|experiments|tests|docs|\.ci)/[\w./-]*\w", text))):
            if not _in_a_clone(path) and not (doc.parent / path).exists():
                problems.append(f"{doc.name}: {path} does not exist")
    assert not problems, "\n".join(problems)


def test_the_reference_check_catches_a_moved_module() -> None:
    assert "defines no ablate" in (_dangling("experiments.ablate") or "")  # now experiments.evaluation.ablation
    assert _dangling("ddspfx.scoring.Example") is not None  # renamed LabelledClip
    assert _dangling("ddspfx.scoring.Scorer") is None and _dangling("experiments.evaluation.ablation") is None
