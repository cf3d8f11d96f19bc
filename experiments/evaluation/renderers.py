"""Who renders a test set's pedals: pedalboard, third-party plugins, the judges' plugins or ddspfx's variants.

``--renderer pedalboard`` (labels carry knobs), ``plugins`` (an installed LADSPA or LV2 implementation of each pedal's
type, drawn from the training table, or with ``--plugins-from`` only the named ones: ``held-out`` =
``ddspfx.plugins.table.HELD_OUT``, ``judges`` = every entry of ``experiments/judges.py``, the reserved packages) or
``variants`` (ddspfx's other design of each type, ``ddspfx.variants``). The judges' table stays study data: it is
read here, in experiments/, and never handed to the package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ddspfx.errors import DdspfxError

VARIANT = "variant/"
"""Implementation name prefix of a pedal rendered by ddspfx's variant design of its type (``--renderer variants``)."""

RENDERED_BY = {"pedalboard": "pedalboard", "plugins": "third-party LADSPA and LV2 plugins (ddspfx.plugins)",
               "variants": "ddspfx's other designs of each type (ddspfx.variants, every pedal)"}
"""The renderers a test set may name (``--renderer``), each with the words a report's header uses for it."""


def plugin_pool(effect: str, prefixes: Sequence[str] = ()) -> list[Any]:
    """The installed training implementations of ``effect``, or when ``prefixes`` are given the installed training
    and judges' implementations (``experiments.judges``) they name; none is an error."""
    from ddspfx.plugins.render import installed_implementations
    from ddspfx.plugins.table import named_by
    from experiments.judges import installed_judges

    candidates = (*installed_implementations(effect), *(installed_judges(effect) if prefixes else ()))
    pool = [i for i in candidates if not prefixes or named_by(i.name, prefixes)]
    if not pool:
        raise DdspfxError(f"no installed plugin implementation of {effect} among --plugins-from "
                          f"{','.join(prefixes)}; name one per effect type (see ddspfx.plugins.table and "
                          "experiments/judges.py)")
    return pool


def parse_plugins_from(text: str) -> tuple[str, ...]:
    """``--plugins-from``: comma-separated names; ``held-out`` stands for ``ddspfx.plugins.table.HELD_OUT`` and
    ``judges`` for every entry of ``experiments.judges``."""
    from ddspfx.plugins.table import HELD_OUT, name_list
    from experiments.judges import JUDGES

    groups = {"held-out": HELD_OUT, "judges": tuple(JUDGES)}
    return tuple(dict.fromkeys(n for x in name_list(text) for n in groups.get(x, (x,))))


def plugins_heard(model: Any, name: str) -> bool:
    """Whether ``model`` trained on chains rendered by implementation ``name``: a plugin (its card's plugin share
    and exclusions; a judges' plugin, ``experiments.judges``, never) or ddspfx's variant of a type (its card's
    ``render_variants``)."""
    from experiments.judges import JUDGES

    if name in JUDGES:
        return False
    data = model.metadata.get("data", {})
    if name.startswith(VARIANT):
        return float(data.get("render_variants", 0.0) or 0.0) > 0
    if "plugin_implementations" in data:  # recorded at training time (the table grows after a model is trained)
        return name in data["plugin_implementations"]
    from ddspfx.plugins.table import name_list, named_by

    exclude = name_list(str(data.get("plugin_exclude", "")))
    return float(data.get("plugin_render", 0.0) or 0.0) > 0 and not named_by(name, exclude)
