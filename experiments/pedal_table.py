"""README's pedal table, written from the catalog: ``python -m experiments.pedal_table`` prints it.

Why generated: the catalog is the one home of the knobs and ranges; a hand-kept copy drifts
(``tests/test_readme.py`` checks README's table against this output).
"""

from __future__ import annotations

from ddspfx.catalog import CLASSIC_EFFECTS, EFFECTS, Param


def _num(v: float) -> str:
    return f"{v:g}"


def _sampled(p: Param) -> str:
    text = f"{_num(p.sample_low)} .. {_num(p.sample_high)}"
    if p.dead_zone is not None:
        text += f", not {_num(p.dead_zone[0])} .. {_num(p.dead_zone[1])}"
    return text


def pedal_table() -> str:
    """The markdown table: one row per knob, the pedal's name and renderer on its first row."""
    lines = ["| effect | rendered by | knob (keyword) | range | scale | sampled (audible) range |",
             "|---|---|---|---|---|---|"]
    for effect in EFFECTS.values():
        by = f"pedalboard `{effect.pedalboard_class}`" if effect.in_pedalboard else "ddspfx (`" + effect.renderer.split(":")[0] + "`)"
        name = effect.name if effect.name in CLASSIC_EFFECTS else f"{effect.name} *"
        for i, p in enumerate(effect.params):
            head = f"| {name} | {by} |" if i == 0 else "|  |  |"
            lines.append(f"{head} `{p.name}` ({p.unit or '-'}) | {_num(p.low)} .. {_num(p.high)} | {p.scale} | {_sampled(p)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(pedal_table())
