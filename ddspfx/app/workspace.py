"""The app's one temporary folder: uploads, plots, renders and downloads live here and nowhere else.

Gradio reads ``GRADIO_TEMP_DIR`` when a page is built (its cache) and when its server starts (the
upload folder), so :meth:`Workspace.create` runs before both; ``python -m ddspfx.app`` does it first.
The folder is removed when the server stops (``close``, also on Ctrl-C and at interpreter exit).
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
import threading
from pathlib import Path


class Workspace:
    """``root/gradio`` holds Gradio's uploads and cache, ``root/jobs/<n>`` one folder per request."""

    def __init__(self, root: Path, previous_env: str | None = None) -> None:
        self.root = root
        self._previous_env = previous_env  # GRADIO_TEMP_DIR before us, put back on close
        self.gradio = root / "gradio"
        self.jobs = root / "jobs"
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    @classmethod
    def create(cls, parent: str | os.PathLike[str] | None = None) -> "Workspace":
        """A fresh ``ddspfx-app-*`` folder under ``parent`` (default: the system's temporary folder)."""
        root = Path(tempfile.mkdtemp(prefix="ddspfx-app-", dir=parent)).resolve()
        ws = cls(root, os.environ.get("GRADIO_TEMP_DIR"))
        ws.gradio.mkdir()
        ws.jobs.mkdir()
        os.environ["GRADIO_TEMP_DIR"] = str(ws.gradio)
        atexit.register(ws.close)
        return ws

    def job_dir(self) -> Path:
        """A new, empty folder for one request's outputs."""
        with self._lock:
            n = next(self._counter)
        path = self.jobs / f"{n:06d}"
        path.mkdir(parents=True)
        return path

    def close(self) -> None:
        """Remove everything the app wrote (and point Gradio back where it pointed before)."""
        shutil.rmtree(self.root, ignore_errors=True)
        if os.environ.get("GRADIO_TEMP_DIR") == str(self.gradio):
            if self._previous_env is None:
                os.environ.pop("GRADIO_TEMP_DIR", None)
            else:
                os.environ["GRADIO_TEMP_DIR"] = self._previous_env
