"""The page's code download for a chain with pedals plain pedalboard lacks: it says which, and it renders the
same samples as ddspfx.render.render_chain (the reference), run as a separate program."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import soundfile as sf

from ddspfx.app.analysis import pedalboard_snippet
from ddspfx.chain import Chain, Pedal
from ddspfx.render import render_chain


def test_a_chain_with_a_tremolo_downloads_a_ddspfx_program_that_renders_it(tmp_path):
    chain = Chain([Pedal("tremolo", {"rate_hz": 5.0, "depth": 0.7, "shape": 0.3}),
                   Pedal("delay", {"delay_seconds": 0.2, "feedback": 0.3, "mix": 0.3})])
    code = pedalboard_snippet(chain, "mygtr.wav")
    assert "pedalboard has no tremolo:" in code and "pedalboard.Pedalboard" not in code
    x = (0.2 * np.random.default_rng(0).standard_normal((22050, 1))).astype(np.float32)
    sf.write(tmp_path / "my_dry_guitar.wav", x, 44100, subtype="FLOAT")
    (tmp_path / "board.py").write_text(code)
    subprocess.run([sys.executable, "board.py"], cwd=tmp_path, check=True)
    wet, _ = sf.read(tmp_path / "my_wet_guitar.wav", dtype="float32")
    np.testing.assert_array_equal(wet, render_chain(x[:, 0], chain, 44100)[0])
    assert "pedalboard.Pedalboard" in pedalboard_snippet(Chain([chain.pedals[1]]))  # plain pedalboard where it can
