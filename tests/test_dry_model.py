"""The dry-aware model (``frontend.paired``): trains, needs the dry, hears it, ignores levels, serves ``infer --dry``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from ddspfx.catalog import SAMPLE_RATE
from ddspfx.errors import DdspfxError
from ddspfx.estimator import Estimator
from ddspfx.infer import main
from ddspfx.sources import make_source


@pytest.fixture(scope="module")
def paired_run(tmp_path_factory):
    from ddspfx.config import load_config
    from ddspfx.training import train

    out = tmp_path_factory.mktemp("paired")
    cfg = load_config("debug", ["--trainer.max_steps", "2", "--trainer.val_every", "2", "--trainer.log_audio", "false",
                                "--model.frontend.paired", "true", "--model.input_level", "true"])
    result = train(cfg, out, progress=False)
    return result["model"]


@pytest.fixture(scope="module")
def clip_pair():
    import pedalboard

    dry = make_source("synth").sample(np.random.default_rng(2), 1.0)
    wet = pedalboard.Pedalboard([pedalboard.Distortion(drive_db=25.0), pedalboard.Delay(delay_seconds=0.2, mix=0.4)])(
        dry[None], SAMPLE_RATE)[0]
    return wet.astype(np.float32), dry


def test_a_paired_model_trains_and_says_it_hears_the_dry(paired_run):
    meta = json.loads(paired_run.with_suffix(".json").read_text())
    assert meta["model"]["frontend"]["paired"] is True
    assert Estimator(paired_run).hears_dry and not Estimator(None).hears_dry


def test_it_needs_the_dry_and_hears_it(paired_run, clip_pair):
    wet, dry = clip_pair
    est = Estimator(paired_run, beam=1)
    with pytest.raises(DdspfxError, match="hears the clip's dry too"):
        est.analyse_many([wet])
    a = est.analyse_many([wet], [dry])[0].effect_confidence
    b = est.analyse_many([wet], [wet.copy()])[0].effect_confidence  # "the dry is the clip": another question
    assert any(abs(a[k] - b[k]) > 1e-4 for k in a)


def test_levels_of_either_track_do_not_matter(paired_run, clip_pair):
    wet, dry = clip_pair
    model = Estimator(paired_run).model
    with torch.inference_mode():
        ref, _ = model.encode(torch.from_numpy(wet)[None], dry=torch.from_numpy(dry)[None])
        for gw, gd in ((0.1, 1.0), (1.0, 0.03), (3.0, 0.3)):
            mem, _ = model.encode(torch.from_numpy(gw * wet)[None], dry=torch.from_numpy(gd * dry)[None])
            assert torch.allclose(mem, ref, atol=1e-4)


def test_infer_dry_uses_the_dry_aware_model(paired_run, clip_pair, tiny_checkpoint, tmp_path, capsys):
    wet, dry = clip_pair
    sf.write(tmp_path / "wet.wav", wet, SAMPLE_RATE, subtype="FLOAT")
    sf.write(tmp_path / "dry.wav", dry, SAMPLE_RATE, subtype="FLOAT")
    args = [str(tmp_path / "wet.wav"), "--dry", str(tmp_path / "dry.wav"), "--json", "--checkpoint", str(tiny_checkpoint)]
    assert main(args + ["--dry-checkpoint", str(paired_run)]) == 0
    assert json.loads(capsys.readouterr().out)["estimate"] == "dry-aware"
    assert main([str(tmp_path / "wet.wav"), "--dry-checkpoint", str(paired_run)]) == 2
    assert "add --dry" in capsys.readouterr().err
    assert main(args + ["--dry-checkpoint", str(tiny_checkpoint)]) == 2
    assert "is a blind model" in capsys.readouterr().err


def test_a_dry_aware_model_can_start_as_exactly_a_trained_blind_one(tiny_checkpoint, clip_pair):
    """Warm start (``--trainer.init_from BLIND`` with ``--model.frontend.paired true``): the dry and difference
    blocks of the projection start at zero, so before training it answers as the blind model, whatever the dry."""
    import dataclasses

    from ddspfx.checkpoint import load_model
    from ddspfx.model import DdspfxModel
    from ddspfx.training import PAIRED_PROJECTION, initialise_from

    blind = load_model(tiny_checkpoint).eval()
    cfg = dataclasses.replace(blind.config, frontend=dataclasses.replace(blind.config.frontend, paired=True))
    paired = DdspfxModel(cfg, clip_seconds=1.0).eval()
    initialise_from(paired, str(tiny_checkpoint))
    w = paired.state_dict()[PAIRED_PROJECTION]
    n = blind.state_dict()[PAIRED_PROJECTION].shape[1]
    assert w.shape[1] == 3 * n and not w[:, n:].any()
    wet, dry = (torch.from_numpy(x)[None] for x in clip_pair)
    with torch.no_grad():
        ref, _ = blind.encode(wet)
        for d in (dry, torch.zeros_like(dry), 0.1 * torch.randn_like(dry)):
            out, _ = paired.encode(wet, dry=d)
            torch.testing.assert_close(out, ref)
