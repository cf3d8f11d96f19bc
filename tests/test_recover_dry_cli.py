"""The dry recovery in the user interfaces (issue 32): ``infer --recover-dry``, ``ddspfx.recover_dry`` and ``--refine``
without ``--dry``. No network ships yet, so these use tiny ones saved to tmp_path whose answers are closed forms:

- the *identity* network (its mask head's weights zeroed: the mask is exactly 1), whose dry is the clip itself;
- the *low-pass* network (also weight-free: mask 1 below ``CUT_HZ``, 0 above), which takes off a "pedal" that adds a
  high tone to a low one, so its dry is the low tone alone.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from startup import fresh_python

import ddspfx.infer as infer
from ddspfx.analysis import Analysis
from ddspfx.catalog import SAMPLE_RATE
from ddspfx.chain import Chain, Pedal
from ddspfx.dry_recovery import DryRecoveryConfig, DryRecoveryNet, save_dry_model
from ddspfx.errors import DdspfxError
from ddspfx.infer import main
from ddspfx.metrics import si_sdr
from ddspfx.refine import CHANGES, RefineResult, refine

CUT_HZ = 2000.0
LOW_HZ, HIGH_HZ = 220.0, 6000.0
ROOT = Path(__file__).resolve().parents[1]


def _mask_model(cut_hz: float | None) -> DryRecoveryNet:
    """A network whose mask does not depend on its input: 1 at every bin (``cut_hz`` None) or 1 below ``cut_hz`` and 0
    above (a brick-wall low-pass on the STFT)."""
    net = DryRecoveryNet(DryRecoveryConfig(hidden=8, embed=8, layers=1)).eval()
    c = net.config
    bins = c.n_fft // 2 + 1
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.zero_()
        real = torch.full((bins,), math.atanh(1.0 / c.max_gain))  # |mask| = max_gain tanh(b) = 1
        if cut_hz is not None:
            real[torch.arange(bins) * c.sample_rate / c.n_fft > cut_hz] = 0.0  # mask 0 there
        net.head.bias[:bins] = real
    return net


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("recovery")
    paths = {"identity": root / "identity.safetensors", "lowpass": root / "lowpass.safetensors"}
    save_dry_model(_mask_model(None), paths["identity"], {"trained": "no (test: identity mask)"})
    save_dry_model(_mask_model(CUT_HZ), paths["lowpass"], {"trained": "no (test: low-pass mask)"})
    return paths


def _pluck(seconds: float, sr: int, f0: float = 196.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6)) / k for k in range(1, 8)) * np.exp(-2 * t)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def _tones(sr: int, seconds: float, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """(true dry, wet): a low tone starting ``offset`` samples in, and the same with a high tone added over it."""
    t = np.arange(int(seconds * sr) - offset) / sr
    fade = np.minimum(1.0, t / 0.01)  # a 10-ms fade in, so the onset has no click above the cut
    dry = np.concatenate([np.zeros(offset), 0.3 * fade * np.sin(2 * np.pi * LOW_HZ * t)]).astype(np.float32)
    high = np.concatenate([np.zeros(offset), 0.2 * fade * np.sin(2 * np.pi * HIGH_HZ * t + 1.0)]).astype(np.float32)
    return dry, dry + high


def _lag(x: np.ndarray, ref: np.ndarray, most: int = 200) -> int:
    """The shift of ``x`` against ``ref`` (samples) that correlates best, within +-``most``."""
    lags = range(-most, most + 1)
    return max(lags, key=lambda k: float(np.dot(np.roll(x, -k)[most:-most], ref[most:-most])))


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ddspfx: error: ") and "Traceback" not in err, err
    return lines[0]


# --- what --recover-dry writes ------------------------------------------------------------------------------------


def test_the_identity_network_writes_the_clip_itself_at_its_rate_and_length(tmp_path, models, tiny_checkpoint, capsys):
    """A 44.1-kHz mono clip comes back sample for sample; a 48-kHz stereo one comes back at 48 kHz, as long, mono
    (the downmix), through the resampling to the network's rate and back."""
    clip = _pluck(1.3, SAMPLE_RATE)
    sf.write(tmp_path / "a.wav", clip, SAMPLE_RATE, subtype="FLOAT")
    x48 = _pluck(1.1, 48000, seed=1)
    sf.write(tmp_path / "b.wav", np.stack([x48, 0.5 * x48], axis=1), 48000, subtype="FLOAT")
    for name, ref, rate in (("a", clip, SAMPLE_RATE), ("b", 0.75 * x48, 48000)):
        out = tmp_path / f"{name}_out.wav"
        rc = main([str(tmp_path / f"{name}.wav"), "--recover-dry", str(out), "--checkpoint", str(tiny_checkpoint),
                   "--recovery-model", str(models["identity"])])
        assert rc == 0
        assert f"wrote {out} (the clean guitar recovered from the clip)" in capsys.readouterr().out
        y, sr = sf.read(out, dtype="float32")
        assert sr == rate and y.ndim == 1 and y.shape == ref.shape
        if rate == SAMPLE_RATE:
            np.testing.assert_allclose(y, ref, atol=1e-5)  # the STFT and its inverse, and nothing else
        else:
            assert si_sdr(y, ref) > 40.0  # the round trip 48 -> 44.1 -> 48 kHz keeps a plucked tone


def test_the_low_pass_network_takes_the_high_tone_off_a_clip_with_a_known_offset(tmp_path, models, tiny_checkpoint):
    """A known "pedal" (a 6-kHz tone over a 220-Hz one, from 0.3 s on, at 48 kHz) taken off by a network that keeps
    what lies below 2 kHz: the file is the low tone, starting where the clip's does, as long as the clip."""
    offset = int(0.3 * 48000)
    dry, wet = _tones(48000, 1.5, offset)
    sf.write(tmp_path / "tones.wav", wet, 48000, subtype="FLOAT")
    out = tmp_path / "tones_dry.flac"
    assert main([str(tmp_path / "tones.wav"), "--recover-dry", str(out), "--checkpoint", str(tiny_checkpoint),
                 "--recovery-model", str(models["lowpass"])]) == 0
    y, sr = sf.read(out, dtype="float32")
    assert sr == 48000 and y.shape == wet.shape
    assert si_sdr(y, dry) > 25.0 and si_sdr(wet, dry) < 5.0  # far closer to the true dry than the wet is
    assert _lag(y, dry) == 0  # lined up with the clip: no shift
    assert np.abs(y[:offset - 1024]).max() < 1e-3  # silent before the onset (one STFT frame of spread allowed)
    assert np.sqrt(np.mean(y[offset + 4800:] ** 2)) == pytest.approx(0.3 / math.sqrt(2), rel=0.02)  # the low tone


def test_json_says_where_it_wrote_and_several_clips_take_a_folder(tmp_path, models, tiny_checkpoint, capsys):
    for name, seed in (("one", 0), ("two", 1)):
        sf.write(tmp_path / f"{name}.wav", _pluck(1.0, SAMPLE_RATE, seed=seed), SAMPLE_RATE, subtype="FLOAT")
    clips = [str(tmp_path / "one.wav"), str(tmp_path / "two.wav")]
    flags = ["--checkpoint", str(tiny_checkpoint), "--recovery-model", str(models["identity"]), "--json"]
    assert main([clips[0], "--recover-dry", str(tmp_path / "x.wav"), *flags]) == 0
    assert json.loads(capsys.readouterr().out)["recovered_dry"] == str(tmp_path / "x.wav")
    folder = tmp_path / "drys"
    folder.mkdir()
    assert main([*clips, "--recover-dry", str(folder), *flags]) == 0
    objs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["recovered_dry"] for o in objs] == [str(folder / "one_dry.wav"), str(folder / "two_dry.wav")]
    for clip, obj in zip(clips, objs):
        np.testing.assert_allclose(sf.read(obj["recovered_dry"], dtype="float32")[0],
                                   sf.read(clip, dtype="float32")[0], atol=1e-5)


def test_a_failed_write_leaves_the_old_file_whole_and_says_so_in_one_line(tmp_path, models, tiny_checkpoint,
                                                                          monkeypatch, capsys):
    """The disk fills half-way through the write: the file already there is untouched, no temporary file is left,
    the error is one line (exit 1), and the answer is still printed."""
    sf.write(tmp_path / "c.wav", _pluck(1.0, SAMPLE_RATE), SAMPLE_RATE, subtype="FLOAT")
    out = tmp_path / "out.wav"
    out.write_bytes(b"the user's earlier file")

    def full_disk(path, *args, **kwargs):
        Path(path).write_bytes(b"RIFF half a header")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ddspfx.audio.sf.write", full_disk)
    rc = main([str(tmp_path / "c.wav"), "--recover-dry", str(out), "--checkpoint", str(tiny_checkpoint),
               "--recovery-model", str(models["identity"])])
    captured = capsys.readouterr()
    assert rc == 1
    line = _one_error_line(captured.err)
    assert "could not write" in line and "No space left on device" in line
    assert captured.out.startswith(f"{tmp_path / 'c.wav'}: ") and "wrote" not in captured.out
    assert out.read_bytes() == b"the user's earlier file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.wav", "out.wav"]


def test_a_corrupt_network_is_one_line_before_anything_is_written(tmp_path, tiny_checkpoint, models, capsys):
    sf.write(tmp_path / "c.wav", _pluck(1.0, SAMPLE_RATE), SAMPLE_RATE, subtype="FLOAT")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not weights")
    bad.with_suffix(".json").write_text(Path(models["identity"]).with_suffix(".json").read_text())
    out = tmp_path / "out.wav"
    out.write_bytes(b"old")
    rc = main([str(tmp_path / "c.wav"), "--recover-dry", str(out), "--checkpoint", str(tiny_checkpoint),
               "--recovery-model", str(bad)])
    assert rc == 2
    assert "dry-recovery model" in _one_error_line(capsys.readouterr().err)
    assert out.read_bytes() == b"old"


@pytest.mark.parametrize("argv, message", [
    (["x.wav", "--dry", "d.wav", "--recover-dry", "o.wav"], "--recover-dry recovers the clip's dry, but --dry "
                                                            "already gives it: nothing to recover"),
    (["--demo", "--recover-dry", "o.wav"], "--demo makes its own clip"),
    (["x.wav", "--recovery-model", "{model}"], "--recovery-model is the network for --recover-dry and for --refine "
                                               "without --dry"),
    (["x.wav", "--recover-dry", "o.wav", "--recovery-model", "missing.safetensors"], "--recovery-model "
                                                                                     "missing.safetensors not found"),
    (["x.wav", "--recover-dry", "o.wav"], "--recover-dry needs the dry-recovery network, and no dry-recovery network "
                                          "ships with this ddspfx yet"),
    (["x.wav", "--refine"], "--refine needs the clip's dry recording (add --dry DRY.wav) or a dry recovered from the "
                            "clip, and no dry-recovery network ships"),
    (["x.wav", "--recover-dry", "o.txt", "--recovery-model", "{model}"], "--recover-dry writes audio: give a name "
                                                                         "ending in .wav or .flac"),
    (["x.wav", "--recover-dry", "nowhere/o.wav", "--recovery-model", "{model}"], "the folder nowhere does not exist"),
    (["x.wav", "y.wav", "--recover-dry", "o.wav", "--recovery-model", "{model}"], "--recover-dry with 2 clips takes "
                                                                                  "a folder"),
    (["x.wav", "--recover-dry", "x.wav", "--recovery-model", "{model}"], "--recover-dry would write over x.wav"),
    (["a/x.wav", "b/x.wav", "--recover-dry", ".", "--recovery-model", "{model}"], "a/x.wav and b/x.wav would both "
                                                                                  "write x_dry.wav"),
])
def test_bad_recovery_flags_are_one_line_before_any_file_is_read(argv, message, models, monkeypatch, capsys):
    monkeypatch.setattr(infer, "RECOVERY_MODEL", Path("/nonexistent/dry_recovery.safetensors"))  # none ships
    argv = [a.replace("{model}", str(models["identity"])) for a in argv]
    assert main(argv) == 2
    assert message in _one_error_line(capsys.readouterr().err)


def test_a_missing_network_is_said_before_torch_loads(tmp_path):
    sf.write(tmp_path / "c.wav", _pluck(1.0, SAMPLE_RATE), SAMPLE_RATE, subtype="FLOAT")
    code = ("import sys\n"
            "import ddspfx.infer as infer\n"
            "from pathlib import Path\n"
            "infer.RECOVERY_MODEL = Path('/nonexistent/dry_recovery.safetensors')\n"
            f"rc = infer.main([{str(tmp_path / 'c.wav')!r}, '--recover-dry', {str(tmp_path / 'o.wav')!r}])\n"
            "print(rc, 'torch' in sys.modules)\n")
    done = fresh_python(code, ROOT)
    assert done.stdout.split() == ["2", "False"], done.stderr
    assert "--recover-dry needs the dry-recovery network" in _one_error_line(done.stderr)


def test_help_names_the_flags_in_plain_words(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--recover-dry OUT.wav also write the clean guitar recovered from the clip" in text
    assert "--recovery-model MODEL.safetensors the dry-recovery network" in text


# --- ddspfx.recover_dry -------------------------------------------------------------------------------------------


def test_the_package_offers_recover_dry_without_loading_torch(models):
    code = ("import sys\n"
            "import numpy as np\n"
            "import ddspfx\n"
            "light = 'torch' not in sys.modules\n"
            "x = (0.3 * np.sin(np.linspace(0, 400, 30000))).astype(np.float32)\n"
            f"y = ddspfx.recover_dry(x, 44100, model_path={str(models['identity'])!r})\n"
            "print(light, y.dtype, y.shape == x.shape, float(np.abs(y - x).max()) < 1e-5)\n")
    done = fresh_python(code, ROOT)
    assert done.stdout.split() == ["True", "float32", "True", "True"], done.stderr


def test_recover_dry_by_inverting_a_one_eq_chain_comes_closer_to_the_true_dry():
    import ddspfx
    from ddspfx.render import render_chain

    dry = _pluck(0.5, SAMPLE_RATE)
    dry = dry + 0.01 * np.random.default_rng(2).standard_normal(dry.size).astype(np.float32)  # every band heard
    chain = Chain([Pedal("eq", {"cutoff_frequency_hz": 900.0, "gain_db": 12.0, "q": 1.0})])
    wet, _ = render_chain(dry, chain, SAMPLE_RATE)
    got = ddspfx.recover_dry(wet, SAMPLE_RATE, chain=chain, method="invert", time_limit_s=5.0)
    assert got.shape == wet.shape
    assert si_sdr(got, dry) > si_sdr(wet, dry) + 6.0


def test_recover_dry_without_a_network_says_so_in_one_line(tmp_path):
    import ddspfx

    with pytest.raises(DdspfxError, match="not found") as caught:
        ddspfx.recover_dry(_pluck(0.5, SAMPLE_RATE), SAMPLE_RATE, model_path=tmp_path / "none.safetensors")
    assert "\n" not in str(caught.value)


# --- --refine without --dry: the check on the recovered dry -------------------------------------------------------


def _result(before: Chain, after: Chain) -> RefineResult:
    return RefineResult(Analysis(after, {}, 1.0), 1.0, 0.5, 0.4, estimate=before)


def test_what_refinement_changed_is_named_by_the_largest_change():
    eq = Pedal("eq", {"cutoff_frequency_hz": 1000.0, "gain_db": 3.0, "q": 1.0})
    eq2 = Pedal("eq", {"cutoff_frequency_hz": 1000.0, "gain_db": 5.0, "q": 1.0})
    dist = Pedal("distortion", {"drive_db": 20.0})
    cases = {"pedals": (Chain([eq]), Chain([eq, dist])), "order": (Chain([eq, dist]), Chain([dist, eq])),
             "knobs": (Chain([eq]), Chain([eq2])), "nothing": (Chain([eq, dist]), Chain([eq, dist]))}
    assert set(cases) == set(CHANGES)
    for change, (before, after) in cases.items():
        assert _result(before, after).change == change
    measured = _result(Chain([eq]), Chain([eq, dist]))
    measured.refined = False  # steps=0 only measures: it changes nothing
    assert measured.change == "nothing"


def test_a_recovered_dry_never_answers_no_pedal_at_all():
    """The dry is the clip itself (what the identity network recovers): its distance to the clip is 0, so a given dry
    answers "no pedal", which is right for a dry recording; a recovered one keeps pedals, since a recovered dry that
    sounds like the clip says the recovery left the pedals in."""
    wet = _pluck(1.0, SAMPLE_RATE)
    start = Analysis(Chain([Pedal("distortion", {"drive_db": 12.0})]), {"distortion": 0.9}, 1.0)
    given = refine(wet, wet, start, SAMPLE_RATE, steps=3, toggles=0, top_k=1, budget_s=None)
    recovered = refine(wet, wet, start, SAMPLE_RATE, steps=3, toggles=0, top_k=1, budget_s=None,
                       dry_source="recovered")
    assert given.distance_dry == pytest.approx(0.0, abs=1e-6) and given.analysis.chain.effects == []
    assert recovered.analysis.chain.effects == ["distortion"] and recovered.dry_source == "recovered"
    assert recovered.summary().startswith("distance to the clip: recovered dry 0.000, ")
    with pytest.raises(ValueError, match="dry_source must be one of given, recovered"):
        refine(wet, wet, start, SAMPLE_RATE, steps=0, dry_source="estimated")


def test_refine_without_dry_checks_on_the_recovered_dry_and_says_what_changed(tmp_path, models, tiny_checkpoint,
                                                                           capsys):
    """With the identity network the recovered dry is the clip (distance 0.000); the JSON says the dry was recovered
    and what refinement changed, which matches the blind answer (the same command without --refine) against the
    refined one; the text says it in one "refine:" line."""
    sf.write(tmp_path / "c.wav", _pluck(1.5, SAMPLE_RATE), SAMPLE_RATE, subtype="FLOAT")
    base = [str(tmp_path / "c.wav"), "--checkpoint", str(tiny_checkpoint)]
    refining = ["--refine", "--refine-budget", "3", "--refine-steps", "5", "--recovery-model", str(models["identity"])]
    assert main([*base, "--json"]) == 0
    blind = Chain.from_list(json.loads(capsys.readouterr().out)["chain"])
    assert main([*base, "--json", *refining]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["dry"] == "recovered" and obj["estimate"] == "blind"
    assert obj["refine"].startswith("distance to the clip: recovered dry 0.000, estimate ")
    refined = Chain.from_list(obj["chain"])
    expected = ("pedals" if sorted(blind.effects) != sorted(refined.effects) else
                "order" if blind.effects != refined.effects else "knobs" if blind != refined else "nothing")
    assert obj["refine_changed"] == expected
    assert refined.pedals or not blind.pedals  # a recovered dry never turns pedals into "no pedal at all"
    assert main([*base, *refining]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  refine: ")]
    assert len(lines) == 1 and "re-rendering onto a dry recovered from the clip (none was given) " in lines[0]
