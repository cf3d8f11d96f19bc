"""User-facing errors: one line that says what is wrong and what to do, never a traceback."""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable[..., int | None])


class DdspfxError(Exception):
    """A problem the user can fix (bad file, bad flag, missing checkpoint).

    Command-line entry points print ``ddspfx: error: <message>`` and exit with status 2.
    """


class AudioError(DdspfxError):
    """An audio file or array that ddspfx cannot use as it is."""


class CliParser(argparse.ArgumentParser):
    """argparse whose bad flags become one DdspfxError line (exit 2 via :func:`cli_entry`), not usage text."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise DdspfxError(f"{message} (see {self.prog} --help)")


def cli_entry(main: F) -> F:
    """Wrap a ``main(argv) -> int`` so user errors become one line on stderr and exit code 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except DdspfxError as exc:
            print(f"ddspfx: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("ddspfx: interrupted; files already written are complete", file=sys.stderr)
            return 130

    return wrapper  # type: ignore[return-value]
