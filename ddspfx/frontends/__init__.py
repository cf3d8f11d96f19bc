"""Front ends: audio (B, T) -> frame tokens (B, F, D) + mask, chosen by name.

``mel`` is embedded and weight-free; ``dac`` (descript-audio-codec latents) lives in
``ddspfx.frontends.dac`` and needs the optional extra ``pip install ddspfx[dac]``.
"""

from __future__ import annotations

import importlib
from typing import Any

from ddspfx.errors import DdspfxError
from ddspfx.frontends.base import FrontEnd

FRONTEND_NAMES: tuple[str, ...] = ("mel", "dac")


def build_frontend(name: str, **cfg: Any) -> FrontEnd:
    """A front end by name; ``cfg`` is its ``config()`` (the ``name`` key, if present, is ignored)."""
    cfg = {k: v for k, v in cfg.items() if k != "name"}
    if name == "mel":
        from ddspfx.frontends.mel import MelFrontEnd

        return MelFrontEnd(**cfg)
    if name == "dac":
        try:
            module = importlib.import_module("ddspfx.frontends.dac")
        except ImportError as exc:
            raise DdspfxError(
                f"the dac front end is not available ({exc}); install it with: pip install ddspfx[dac]"
            ) from None
        return module.build(**cfg)
    raise DdspfxError(f"unknown front end {name!r}; choose one of: {', '.join(FRONTEND_NAMES)}")


__all__ = ["FrontEnd", "FRONTEND_NAMES", "build_frontend"]
