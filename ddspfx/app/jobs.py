"""Long work that a page visitor can cancel: refinement runs in its own process.

A Python thread cannot be stopped, so cancelling a Gradio event would only stop *waiting* for a
refinement that goes on burning the CPU. ``refine_in_process`` runs ``ddspfx.refine.refine`` in a
spawned process, relays its progress, and terminates it when the visitor presses Cancel.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ddspfx.config import DEFAULT_BUDGET_S
from ddspfx.errors import DdspfxError
from ddspfx.refine import refine


class Cancelled(DdspfxError):
    """The visitor cancelled the work."""


class CancelFlags:
    """One ``threading.Event`` per browser session: the Cancel button sets it, long work polls it."""

    def __init__(self) -> None:
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, session: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(session, threading.Event())

    def cancel(self, session: str) -> None:
        self.get(session).set()

    def reset(self, session: str) -> threading.Event:
        event = self.get(session)
        event.clear()
        return event


def _worker(conn: Any, wet: np.ndarray, dry: np.ndarray, analysis: Any, sample_rate: int, steps: int,
            budget_s: float | None = None, dry_source: str = "given") -> None:
    """Child process: refine, reporting each fitted candidate chain through ``conn``."""
    torch.set_num_threads(1)  # the server's process keeps the other core for the page

    def report(done: int, total: int) -> None:  # refine's on_progress: the candidate fits done so far
        conn.send(("progress", done))

    try:
        result = refine(wet, dry, analysis, sample_rate, steps=steps, budget_s=budget_s, on_progress=report,
                        dry_source=dry_source)
        conn.send(("done", result))
    except BaseException as exc:  # noqa: B902 - everything goes back to the parent as one line
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def refine_in_process(wet: np.ndarray, dry: np.ndarray, analysis: Any, sample_rate: int, steps: int,
                      progress: Callable[[float, str], None], cancel: threading.Event | None = None,
                      poll_s: float = 0.1, budget_s: float | None = None, show_every_s: float = 0.5,
                      dry_source: str = "given") -> Any:
    """``ddspfx.refine.refine`` in a spawned process, under the time limit ``budget_s`` (default refine's own);
    ``cancel`` kills it. ``dry_source``: refine's (``"recovered"`` for a dry recovered from the clip).

    The progress bar moves with the seconds spent against the limit (every ``show_every_s``), which is what decides
    when refinement ends; the message also counts the candidate chains fitted. Raises :class:`Cancelled` when
    ``cancel`` is set, ``DdspfxError`` when the child fails.
    """
    if steps <= 0:  # measuring the estimate only: fast, not worth a process
        return refine(wet, dry, analysis, sample_rate, steps=0, dry_source=dry_source)
    limit = DEFAULT_BUDGET_S if budget_s is None else float(budget_s)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(child, wet, dry, analysis, sample_rate, steps, limit, dry_source),
                       daemon=True)
    progress(0.2, "refining: starting the fitting process")
    began = time.perf_counter()
    shown = began
    fitted: Any = 0
    proc.start()
    child.close()
    try:
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled; nothing was kept")
            now = time.perf_counter()
            if now - shown >= show_every_s:  # the bar moves with the clock, not only when a fit ends
                shown = now
                spent = now - began
                when = (f"{spent:.0f} s of at most ~{limit:g} s" if spent <= limit
                        else f"the {limit:g}-s limit is spent, finishing the fit under way")
                progress(0.2 + 0.5 * min(spent / limit, 1.0), f"refining: {when}, {fitted} candidate chain(s) fitted")
            if parent.poll(poll_s):
                try:
                    kind, payload = parent.recv()
                except EOFError:
                    raise DdspfxError("refinement stopped unexpectedly (its process exited)") from None
                if kind == "progress":  # the fits done so far (or (done, total))
                    fitted = payload[0] if isinstance(payload, tuple) else payload
                elif kind == "done":
                    return payload
                else:
                    raise DdspfxError(f"refinement failed: {payload}")
            elif not proc.is_alive() and not parent.poll():
                raise DdspfxError(f"refinement stopped unexpectedly (exit code {proc.exitcode})")
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join(timeout=5)
        parent.close()
