"""The studies' ``--model NAME=CHECKPOINT`` arguments: one parser, one message."""

from __future__ import annotations

from collections.abc import Sequence

from ddspfx.errors import DdspfxError


def model_paths(items: Sequence[str], default: dict[str, str] | None = None) -> dict[str, str]:
    """``["R8=", "c13=/runs/c13"]`` -> ``{"R8": "", "c13": "/runs/c13"}`` (an empty path: the shipped model), in the
    order given; ``default`` when none is given. A name missing, or given twice, is a one-line error."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise DdspfxError(f"--model {item!r}: write NAME=CHECKPOINT (e.g. shipped=path/to/model.safetensors; "
                              "an empty CHECKPOINT is the shipped model)")
        if name in out:
            raise DdspfxError(f"--model {name!r} is given twice; give each model its own name")
        out[name] = path
    return out if out else dict(default or {})
