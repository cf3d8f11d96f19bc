"""What the command lines accept and list: the shipped model by name in calibrate, every dry source in the help."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ddspfx.sources import SPECS


def _help(main: Any, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


@pytest.mark.parametrize("command", ["calibrate", "data make", "data preview", "evaluate"])
def test_every_source_is_in_the_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The --source help lists ddspfx.sources.SPECS (it listed four sources of many)."""
    import importlib

    module, *sub = command.split()
    main = importlib.import_module(f"ddspfx.{module}" if module != "data" else "ddspfx.data.__main__").main
    text = _help(main, sub, capsys)
    assert all(spec in text for spec in SPECS), [s for s in SPECS if s not in text]


def test_calibrate_takes_default_for_the_shipped_model(monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """``calibrate default`` recalibrates the shipped model, as training's ``init_from default`` starts from it; the
    data, the search and the sidecar write are stood in for (nothing in the package is rewritten)."""
    import ddspfx.calibrate as calibrate
    import ddspfx.calibration as calibration
    from ddspfx.checkpoint import DEFAULT_CHECKPOINT

    written: list[Path] = []

    def result(model: Any, dataset: Any, objective: str) -> dict[str, Any]:
        same = dict.fromkeys(model.effects, 0.5)
        return {"thresholds": same, "objective": objective, "clips": 50, "f1_at_0.5": same, "f1_calibrated": same}

    monkeypatch.setattr(calibration, "make_dataset", lambda cfg, split, sample_rate: [])
    monkeypatch.setattr(calibration, "calibrate", result)
    monkeypatch.setattr(calibration, "update_sidecar", lambda path, **kw: written.append(Path(path)) or path)
    assert calibrate.main(["default", "--n", "50"]) == 0
    assert written == [DEFAULT_CHECKPOINT]
    assert "not found" not in capsys.readouterr().err
