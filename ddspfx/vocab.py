"""PedalVocab: a pedal chain as a token sequence, with the grammar constrained decoding needs.

A chain is written as::

    <chain> <distortion> distortion.drive_db:7 </distortion> <reverb> reverb.room_size:3 ... </reverb> </chain>

Each effect appears at most once; its parameters follow in catalog order, exactly once each.
A parameter-bin token belongs to one effect (``distortion.drive_db:7`` and ``reverb.room_size:7`` are
different ids; chorus and phaser both have a ``mix`` knob, which is why token strings carry the
effect name). :meth:`PedalVocab.id` also accepts the short form ``drive_db:7`` when it names exactly one
token. Bins come from the catalog, so the vocabulary follows the table.

Layout of ids (stable for a given catalog): ``<pad>``, ``<chain>``, ``</chain>``, then per effect in
catalog order ``<effect>``, its parameters' bins in order, ``</effect>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import AbstractSet, Collection, Sequence

import torch

from ddspfx.catalog import EFFECT_NAMES, bin_to_value, get_effect, value_to_bin
from ddspfx.chain import Chain, Pedal

PAD, BOS, EOS = "<pad>", "<chain>", "</chain>"


@dataclass(frozen=True)
class _Info:
    """What one id means: kind is pad/bos/eos/open/close/param; effect/param index/bin where relevant
    (``effect`` is "" for pad/bos/eos)."""

    kind: str
    effect: str = ""
    param_index: int = -1
    bin: int = -1


class PedalVocab:
    """Token <-> id tables, chain encode/decode and the chain grammar (see module docstring)."""

    def __init__(self, effects: Sequence[str] = EFFECT_NAMES, max_effects: int | None = None) -> None:
        self.effects: tuple[str, ...] = tuple(get_effect(e).name for e in effects)
        self.max_effects = max_effects
        self._tokens: list[str] = []
        self._info: list[_Info] = []
        self._add(PAD, _Info("pad"))
        self._add(BOS, _Info("bos"))
        self._add(EOS, _Info("eos"))
        self._open: dict[str, int] = {}
        self._close: dict[str, int] = {}
        self._param_ids: dict[str, list[list[int]]] = {}  # effect -> [param][bin] -> id
        for name in self.effects:
            eff = get_effect(name)
            self._open[name] = self._add(f"<{name}>", _Info("open", name))
            self._param_ids[name] = [
                [self._add(f"{name}.{p.name}:{b}", _Info("param", name, i, b)) for b in range(p.bins)]
                for i, p in enumerate(eff.params)
            ]
            self._close[name] = self._add(f"</{name}>", _Info("close", name))
        self._ids: dict[str, int] = {t: i for i, t in enumerate(self._tokens)}
        short: dict[str, list[int]] = {}
        for i, t in enumerate(self._tokens):
            if "." in t:
                short.setdefault(t.split(".", 1)[1], []).append(i)
        self._short = {k: v[0] for k, v in short.items() if len(v) == 1}
        self.pad_id, self.bos_id, self.eos_id = self._ids[PAD], self._ids[BOS], self._ids[EOS]

    def _add(self, token: str, info: _Info) -> int:
        self._tokens.append(token)
        self._info.append(info)
        return len(self._tokens) - 1

    # --- tables -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._tokens)

    def token(self, id: int) -> str:
        if not 0 <= id < len(self._tokens):
            raise ValueError(f"token id {id} outside 0..{len(self._tokens) - 1}")
        return self._tokens[id]

    def id(self, token: str) -> int:
        """Id of ``token``; ``param:bin`` without the effect prefix works when it is unambiguous."""
        if token in self._ids:
            return self._ids[token]
        if token in self._short:
            return self._short[token]
        raise KeyError(f"unknown or ambiguous token {token!r}; parameter tokens look like 'distortion.drive_db:7'")

    def effect_open_id(self, name: str) -> int:
        return self._open[get_effect(name).name]

    def effect_close_id(self, name: str) -> int:
        return self._close[get_effect(name).name]

    def opened_effect(self, id: int) -> str | None:
        """The effect whose opening tag ``id`` is, else None."""
        info = self._info[id]
        return info.effect if info.kind == "open" else None

    def effect_order(self, ids: Sequence[int]) -> list[str]:
        """The effects a (partial) sequence opens, in order, without decoding or checking it."""
        return [e for e in map(self.opened_effect, ids) if e is not None]

    def choice_ids(self) -> list[int]:
        """Ids that decide what the chain is -- an effect's opening tag or ``</chain>`` -- as opposed to
        parameter bins and forced closing tags (the loss can weight them: they carry presence and order)."""
        return [*self._open.values(), self.eos_id]

    def param_id(self, effect: str, param: str, b: int) -> int:
        eff = get_effect(effect)
        return self._param_ids[eff.name][eff.param_names.index(param)][b]

    # --- encode / decode ----------------------------------------------------------------

    def encode(self, chain: Chain) -> list[int]:
        """``<chain> (<effect> p:bin ... </effect>)* </chain>``; values are binned by ``catalog.value_to_bin``."""
        ids = [self.bos_id]
        for pedal in chain:
            if pedal.effect not in self._open:
                raise ValueError(f"effect {pedal.effect!r} is not in this vocabulary ({', '.join(self.effects)})")
            eff = get_effect(pedal.effect)
            ids.append(self._open[eff.name])
            for i, p in enumerate(eff.params):
                ids.append(self._param_ids[eff.name][i][value_to_bin(pedal.params[p.name], p)])
            ids.append(self._close[eff.name])
        ids.append(self.eos_id)
        return ids

    def supervised(self, chain: Chain, unlabelled: Collection[tuple[str, str]] = ()) -> list[bool]:
        """Per id of ``encode(chain)``: False for the bin tokens of the ``unlabelled`` (effect, knob) pairs,
        whose values the clip does not tell (a plugin's knob that means something else), True elsewhere."""
        flags = [True]
        for pedal in chain:
            eff = get_effect(pedal.effect)
            flags += [True] + [(eff.name, p.name) not in unlabelled for p in eff.params] + [True]
        return flags + [True]

    def decode(self, ids: Sequence[int]) -> Chain:
        """Ids -> Chain with bin-centre values; pads are ignored. Raises ValueError naming the position."""
        ids = [int(i) for i in ids]
        prefix: list[int] = []
        for pos, i in enumerate(ids):
            if i == self.pad_id:
                continue
            if not 0 <= i < len(self):
                raise ValueError(f"position {pos}: token id {i} outside the vocabulary 0..{len(self) - 1}")
            allowed = self.allowed_next(prefix)
            if i not in allowed:
                raise ValueError(f"position {pos}: token {self.token(i)!r} not allowed here; {self._expectation(prefix)}")
            prefix.append(i)
            if i == self.eos_id:
                rest = [j for j in ids[pos + 1 :] if j != self.pad_id]
                if rest:
                    raise ValueError(f"position {pos + 1}: tokens after </chain>")
                break
        if not prefix or prefix[-1] != self.eos_id:
            raise ValueError(f"position {len(ids)}: sequence ends before </chain>; {self._expectation(prefix)}")
        return self._chain_of(prefix)

    def _chain_of(self, prefix: Sequence[int]) -> Chain:
        pedals: list[Pedal] = []
        values: dict[str, float] = {}
        for i in prefix:
            info = self._info[i]
            if info.kind == "open":
                values = {}
            elif info.kind == "param":
                p = get_effect(info.effect).params[info.param_index]
                values[p.name] = bin_to_value(info.bin, p)
            elif info.kind == "close":
                pedals.append(Pedal(info.effect, values))
        return Chain(pedals)

    # --- grammar ------------------------------------------------------------------------

    def _state(self, prefix: Sequence[int]) -> tuple[str, set[str], str, int]:
        """Walk a prefix: (phase, used effects, open effect or "", params written). Raises on an invalid prefix."""
        phase, current, n_params = "start", "", 0
        used: set[str] = set()
        for pos, i in enumerate(prefix):
            i = int(i)
            if i == self.pad_id:
                continue
            if not 0 <= i < len(self):
                raise ValueError(f"position {pos}: token id {i} outside the vocabulary")
            info = self._info[i]
            ok = False
            if phase == "start":
                ok = info.kind == "bos"
                phase = "between"
            elif phase == "between":
                if info.kind == "eos":
                    ok, phase = True, "done"
                elif info.kind == "open" and info.effect not in used and not self._full(used):
                    ok, phase, current, n_params = True, "inside", info.effect, 0
                    used.add(info.effect)
            elif phase == "inside":
                n = len(get_effect(current).params)
                if n_params < n:
                    ok = info.kind == "param" and info.effect == current and info.param_index == n_params
                    n_params += 1
                else:
                    ok = info.kind == "close" and info.effect == current
                    phase, current = "between", ""
            if not ok:
                raise ValueError(f"position {pos}: token {self.token(i)!r} not allowed here")
        return phase, used, current, n_params

    def _full(self, used: set[str]) -> bool:
        return self.max_effects is not None and len(used) >= self.max_effects

    def allowed_next(self, prefix: Sequence[int], effects: AbstractSet[str] | None = None) -> set[int]:
        """Ids that may follow ``prefix`` (empty after ``</chain>``). Raises ValueError on an invalid prefix.

        ``effects``: the chain must consist of exactly these effects (any order) -- only they may be
        opened and ``</chain>`` is allowed once all are used; the search then only chooses the order
        and the parameter bins (set-then-order decoding).
        """
        phase, used, current, n_params = self._state(prefix)
        if phase == "start":
            return {self.bos_id}
        if phase == "done":
            return set()
        if phase == "between":
            if effects is not None:
                left = [e for e in self.effects if e in effects and e not in used]
                return {self._open[e] for e in left} if left and not self._full(used) else {self.eos_id}
            out = {self.eos_id}
            if not self._full(used):
                out |= {self._open[e] for e in self.effects if e not in used}
            return out
        params = self._param_ids[current]
        if n_params < len(params):
            return set(params[n_params])
        return {self._close[current]}

    def _expectation(self, prefix: Sequence[int]) -> str:
        allowed = sorted(self.allowed_next(prefix))
        if not allowed:
            return "expected nothing after </chain>"
        names = [self.token(i) for i in allowed]
        shown = ", ".join(names[:4]) + (f", ... ({len(names)} options)" if len(names) > 4 else "")
        return f"expected one of {shown}"

    def allowed_mask(self, prefixes: list[list[int]], effects: Sequence[AbstractSet[str] | None] | None = None
                     ) -> torch.Tensor:
        """(B, V) bool: row b marks the ids allowed after ``prefixes[b]``; a finished row allows only pad.

        ``effects[b]``: restrict row b's chain to that effect set (see :meth:`allowed_next`).
        """
        mask = torch.zeros(len(prefixes), len(self), dtype=torch.bool)
        for b, prefix in enumerate(prefixes):
            allowed = self.allowed_next(prefix, None if effects is None else effects[b])
            if not allowed:
                allowed = {self.pad_id}
            mask[b, sorted(allowed)] = True
        return mask

    def max_length(self) -> int:
        """Longest valid sequence (all allowed effects), for buffer sizes."""
        n = len(self.effects) if self.max_effects is None else min(self.max_effects, len(self.effects))
        lens = sorted((len(get_effect(e).params) + 2 for e in self.effects), reverse=True)
        return 2 + sum(lens[:n])
