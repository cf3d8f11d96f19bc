"""What a command line imports before it answers: run code in a fresh interpreter, whose ``sys.modules`` starts empty."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def fresh_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``code`` in a new Python process (text output captured): a module imported by an earlier test cannot hide
    that the command under test imports it too."""
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)
