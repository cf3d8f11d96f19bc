"""The repository stays light: studies commit summaries, not result dumps over 1 MB or candidate weights."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIMIT = 1_000_000  # bytes


def tracked(under: str) -> list[Path]:
    """Files git tracks under ``under`` (repository-relative), as they are on disk."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    run = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "--", under], capture_output=True, text=True)
    if run.returncode != 0:
        pytest.skip("not a git checkout (a source archive): nothing is tracked")
    return [REPO / f for f in run.stdout.split("\0") if f]


def test_no_result_dump_over_1_mb_or_candidate_weights_is_tracked() -> None:
    files = tracked("experiments/results")
    assert files, "experiments/results has no tracked file: the studies' summaries are missing"
    big = [f"{f.relative_to(REPO)} ({f.stat().st_size / 1e6:.1f} MB)" for f in files
           if f.is_file() and f.stat().st_size > LIMIT]
    assert not big, ("result dumps over 1 MB are kept out of git: `git rm --cached` them, list them in .gitignore "
                     f"and in the study's dumps.md with the command that regenerates them: {', '.join(big)}")
    weights = [str(f.relative_to(REPO)) for f in files if f.suffix == ".safetensors"]
    assert not weights, f"unshipped candidate weights are kept out of git: {', '.join(weights)}"


def test_each_untracked_dump_is_listed_with_its_summary() -> None:
    """Every dumps.md names dumps that .gitignore keeps out and summaries that are committed."""
    files = {str(f.relative_to(REPO)) for f in tracked("experiments/results")}
    manifests = sorted((REPO / "experiments" / "results").glob("*/dumps.md"))
    assert manifests
    for manifest in manifests:
        folder = manifest.parent.relative_to(REPO)
        assert str(folder / "dumps.md") in files, f"{folder}/dumps.md is not committed"
        for line in manifest.read_text().splitlines():
            if not line.startswith("| `"):
                continue
            cells = [c.strip() for c in line.strip("|").split("|")]
            dump, summary = cells[0].split("`")[1], cells[1].strip("`")
            assert str(folder / dump) not in files, f"{folder}/{dump} is listed in dumps.md but tracked"
            assert str(folder / summary) in files, f"{folder}/{summary}: the summary of {dump} is not committed"
            assert cells[4].startswith("`python -m experiments."), f"{folder}/{dump}: no command regenerates it"
