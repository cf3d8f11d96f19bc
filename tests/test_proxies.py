"""Registry-wide proxy tests: every catalog effect, so an added effect is tested automatically.

Each proxy is compared with pedalboard itself on three fixed settings (per-effect tolerances
on the multi-resolution STFT distance and the max absolute sample error), mono and stereo;
shapes/dtypes/lengths; batched (B,) params equal per-item calls; and normalised knobs (``knobs.proxy_kwargs``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddspfx.catalog import EFFECT_NAMES, MAX_PARAMS, denormalise_params, get_effect
from ddspfx.chain import Chain, Pedal
from ddspfx.knobs import proxy_kwargs
from ddspfx.proxies import apply
from ddspfx.render import run_reference
from experiments.proxy_fidelity import guitar_clip

SR = 44100

# three normalised settings per effect (columns beyond an effect's parameter count are ignored)
SETTINGS = (
    (0.2, 0.7, 0.4, 0.9, 0.3),
    (0.5, 0.5, 0.5, 0.5, 0.5),
    (0.85, 0.15, 0.6, 0.35, 0.75),
)

# (MR-STFT distance, max abs error) allowed against pedalboard. The exact proxies sit near float32
# rounding; chorus rounds its fractional delay in float32 inside JUCE, which we cannot match bit for bit.
TOLERANCES: dict[str, tuple[float, float]] = {
    "compressor": (1e-2, 1e-4),
    "distortion": (1e-3, 1e-5),
    "eq": (1e-3, 1e-4),
    "chorus": (2e-2, 5e-4),
    "phaser": (1e-2, 1e-4),
    "delay": (1e-3, 1e-5),
    "reverb": (2e-3, 1e-5),
    "tremolo": (1e-3, 1e-5),
    "flanger": (2e-2, 5e-4),  # pedalboard's Chorus, as the chorus
    "fuzz": (1e-3, 1e-4),
    "octave": (1e-3, 1e-5),
    "wah": (1e-3, 1e-4),
    "noise_gate": (1e-2, 1e-4),  # JUCE's float32 ballistics, as the compressor
}
assert set(TOLERANCES) == set(EFFECT_NAMES), "every catalog effect needs a tolerance here"


@pytest.fixture(scope="module")
def clips() -> np.ndarray:
    rng = np.random.default_rng(7)
    return np.stack([guitar_clip(rng, 0.5, SR) for _ in range(3)])  # (3, T)


@pytest.fixture(scope="module")
def mrstft():
    from ddspfx.spectral import FIDELITY, mrstft

    return mrstft(FIDELITY)  # the fidelity study's distance (auraloss's default resolutions)


def setting(effect: str, i: int) -> dict[str, float]:
    return denormalise_params(effect, SETTINGS[i])


def proxy_np(effect: str, x: np.ndarray, params: dict[str, float]) -> np.ndarray:
    with torch.no_grad():
        return apply(effect, torch.from_numpy(np.ascontiguousarray(x))[None], SR, **params)[0].numpy()


def check_against_pedalboard(effect: str, x: np.ndarray, params: dict[str, float], mrstft) -> None:
    """Proxy vs pedalboard on a (C, T) clip, within the effect's tolerances."""
    ref = run_reference(x, Chain([Pedal(effect, params)]), SR)  # (C, T)
    y = proxy_np(effect, x, params)
    dist_tol, abs_tol = TOLERANCES[effect]
    with torch.no_grad():
        dist = float(mrstft(torch.from_numpy(y)[None], torch.from_numpy(ref)[None]))
    err = float(np.abs(y - ref).max())
    assert dist < dist_tol and err < abs_tol, f"{effect} {params}: MR-STFT {dist:.2e}, max abs error {err:.2e}"


@pytest.mark.parametrize("index", range(len(SETTINGS)))
@pytest.mark.parametrize("effect", EFFECT_NAMES)
def test_proxy_matches_pedalboard(effect: str, index: int, clips: np.ndarray, mrstft) -> None:
    check_against_pedalboard(effect, clips[index : index + 1], setting(effect, index), mrstft)


@pytest.mark.parametrize("effect", EFFECT_NAMES)
def test_proxy_matches_pedalboard_stereo(effect: str, clips: np.ndarray, mrstft) -> None:
    x = np.stack([clips[0], 0.6 * clips[1]])  # different left and right
    check_against_pedalboard(effect, x, setting(effect, 0), mrstft)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("effect", EFFECT_NAMES)
def test_shape_dtype_length(effect: str, dtype: torch.dtype, clips: np.ndarray) -> None:
    for channels, length in [(1, 3001), (2, 2048)]:
        x = torch.from_numpy(clips[:2, None, :length]).to(dtype).repeat(1, channels, 1)  # (2, C, T)
        y = apply(effect, x, SR, **setting(effect, 1))
        assert y.shape == x.shape and y.dtype == dtype
        assert torch.isfinite(y).all()


@pytest.mark.parametrize("effect", EFFECT_NAMES)
def test_batched_params_match_per_item(effect: str, clips: np.ndarray) -> None:
    x = torch.from_numpy(clips[:, None, :8000].copy())  # (3, 1, T)
    settings = [setting(effect, i) for i in range(3)]
    batched = {k: torch.tensor([s[k] for s in settings]) for k in settings[0]}
    with torch.no_grad():
        y = apply(effect, x, SR, **batched)
        singles = torch.cat([apply(effect, x[i : i + 1], SR, **settings[i]) for i in range(3)])
    torch.testing.assert_close(y, singles, atol=1e-5, rtol=0)
    assert not torch.allclose(y[0], y[1])  # the settings really differ per item


@pytest.mark.parametrize("effect", EFFECT_NAMES)
def test_proxy_on_normalised_knobs(effect: str, clips: np.ndarray) -> None:
    """The proxy driven by normalised knobs through ``knobs.proxy_kwargs`` (as the soft chain and the fits drive it)
    renders what it renders at the catalog's real-unit settings, with a gradient for every knob."""
    eff = get_effect(effect)
    x = torch.from_numpy(clips[:2, None, :].copy())  # (2, 1, T)
    u = torch.tensor([SETTINGS[0], SETTINGS[2]], dtype=torch.float32)
    u = torch.nn.functional.pad(u, (0, MAX_PARAMS - u.shape[1]), value=0.5).requires_grad_(True)  # (2, MAX_PARAMS)
    y = apply(effect, x, SR, **proxy_kwargs(effect, u.to(torch.float64)))
    with torch.no_grad():
        for i, row in enumerate((SETTINGS[0], SETTINGS[2])):
            ref = apply(effect, x[i : i + 1], SR, **denormalise_params(effect, row))
            torch.testing.assert_close(y[i : i + 1], ref, atol=1e-5, rtol=1e-4)
    target = run_reference(clips[:2], Chain([Pedal(effect, setting(effect, 1))]), SR)  # (2, T)
    (y[:, 0] - torch.from_numpy(target)).square().mean().backward()
    grad = u.grad[:, : len(eff.params)]
    assert torch.isfinite(u.grad).all()
    assert (grad.abs().sum(0) > 0).all(), f"{effect}: zero gradient for some parameter: {grad}"
    assert (u.grad[:, len(eff.params):] == 0).all()  # padding columns are ignored


def test_proxy_kwargs_rejects_too_few_knobs() -> None:
    with pytest.raises(ValueError, match="reverb"):
        proxy_kwargs("reverb", torch.zeros(1, 2))
