"""Which Debian packages are installed, so that a plugin test skips only when the package it needs is absent.

A plugin test that cannot load its plugin skips when the plugin's package is not installed (naming it); when the
package *is* installed the same error is a fault (a typo in a plugin table, a label or URI that changed) and the test
fails with it. Where there is no dpkg (not a Debian system) nothing can be told apart and the test skips.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from typing import NoReturn

import pytest


@functools.lru_cache(maxsize=None)
def installed(package: str) -> bool | None:
    """Whether dpkg has ``package`` installed; None where there is no dpkg-query."""
    if shutil.which("dpkg-query") is None:
        return None
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False)
    return out.returncode == 0 and out.stdout.strip() == "install ok installed"


def skip_or_fail(exc: BaseException, *packages: str | None) -> NoReturn:
    """Skip naming the first of ``packages`` that is not installed; if every one is, ``exc`` is a fault: raise it."""
    named = [p for p in packages if p]
    missing = [p for p in named if installed(p) is not True]
    if missing or not named:
        need = missing[0] if missing else "the plugin's package"
        pytest.skip(f"needs the Debian package {need} (apt-get install {need}): {exc}")
    raise exc
