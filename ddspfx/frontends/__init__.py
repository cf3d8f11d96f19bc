"""Front ends: audio (B, T) -> frame tokens (B, F, D) + mask, chosen by name.

``mel`` is embedded and weight-free; ``relation`` (dry-aware) hears only how the wet differs from the dry
(``ddspfx.frontends.relation``); ``dac`` (descript-audio-codec latents) lives in
``ddspfx.frontends.dac`` and needs the optional extra ``pip install ddspfx[dac]``.
"""

from __future__ import annotations

from typing import Any

from ddspfx.errors import DdspfxError
from ddspfx.frontends import dac
from ddspfx.frontends.base import FrontEnd
from ddspfx.frontends.mel import MelFrontEnd
from ddspfx.frontends.relation import RelationFrontEnd

FRONTEND_NAMES: tuple[str, ...] = ("mel", "dac", "relation")


def build_frontend(name: str | None = None, /, **cfg: Any) -> FrontEnd:
    """A front end by name; ``cfg`` is its ``config()``.

    ``build_frontend(**fe.config())`` works (the name comes from the dict), and so does
    ``build_frontend("dac", **cfg)`` when ``cfg`` also holds a ``name`` key (the argument wins).
    Keys of the other front ends (``dac_*``, ``relation_*``) are dropped, so one config section serves all.
    """
    cfg_name = cfg.pop("name", None)
    name = name or cfg_name
    if not name:
        raise DdspfxError(f"no front end named; choose one of: {', '.join(FRONTEND_NAMES)}")
    if name == "mel":
        return MelFrontEnd(**{k: v for k, v in cfg.items() if not k.startswith(("dac_", "relation_"))})
    if name == "relation":
        return RelationFrontEnd(**{k: v for k, v in cfg.items() if not k.startswith("dac_")})
    if name == "dac":
        return dac.build(**{k: v for k, v in cfg.items() if not k.startswith("relation_")})  # imports the optional ``dac`` package only when it runs
    raise DdspfxError(f"unknown front end {name!r}; choose one of: {', '.join(FRONTEND_NAMES)}")


__all__ = ["FrontEnd", "FRONTEND_NAMES", "build_frontend"]
