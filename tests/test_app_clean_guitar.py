"""The page's "clean guitar" (issue 32): the dry recovered from the clip, as a player and a download, and refining on
it when no dry was given; hidden, and said why, without a dry-recovery network. The network is the identity one (its
mask head's weights zeroed: its dry is the clip itself), saved to tmp_path: none ships yet.

Skipped as a whole without the ``app`` extra (Gradio); the browser test also needs chromium (see test_app_browser).
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

pytest.importorskip("gradio", reason="the web app needs the app extra: pip install 'ddspfx[app]'")

import ddspfx.app.analysis as page_analysis  # noqa: E402
from ddspfx.app.analysis import analyse_upload, read_clip, recovery_network, status_line  # noqa: E402
from ddspfx.chain import Chain  # noqa: E402
from ddspfx.dry_recovery import DryRecoveryConfig, DryRecoveryNet, save_dry_model  # noqa: E402
from ddspfx.errors import DdspfxError  # noqa: E402
from ddspfx.estimator import Estimator  # noqa: E402
from ddspfx.render import render_chain  # noqa: E402

SR = 44_100

pytestmark = [  # Gradio's queue calls pandas APIs that pandas 3 deprecates: theirs, not ours
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning"),
]


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Path:
    net = DryRecoveryNet(DryRecoveryConfig(hidden=8, embed=8, layers=1)).eval()
    bins = net.config.n_fft // 2 + 1
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.zero_()
        net.head.bias[:bins] = math.atanh(1.0 / net.config.max_gain)  # |mask| = max_gain tanh(b) = 1
    path = tmp_path_factory.mktemp("recovery") / "identity.safetensors"
    save_dry_model(net, path, {"trained": "no (test: identity mask)"})
    return path


@pytest.fixture(scope="module")
def estimator() -> Estimator:
    return Estimator()


@pytest.fixture(scope="module")
def wet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ddspfx.sources import make_source

    dry = make_source("synth", sample_rate=SR).sample(np.random.default_rng(3), 3.0)
    chain = Chain.from_list([{"effect": "distortion", "params": {"drive_db": 25.0}},
                             {"effect": "delay", "params": {"delay_seconds": 0.3, "feedback": 0.4, "mix": 0.4}}])
    clip, _ = render_chain(dry, chain, SR)
    path = tmp_path_factory.mktemp("clips") / "riff.wav"
    sf.write(path, clip, SR)
    return path


def test_the_clean_guitar_is_a_download_as_long_as_the_clip(tmp_path, estimator, identity, wet):
    page = analyse_upload(estimator, tmp_path / "job", str(wet), recovery=recovery_network(identity))
    clip = read_clip(wet, SR)
    assert page.clean == tmp_path / "job" / "riff_clean_guitar.wav" and page.clean in page.downloads
    y, sr = sf.read(page.clean, dtype="float32")
    assert sr == SR and y.shape == clip.shape
    np.testing.assert_allclose(y, clip, atol=1e-5)  # the identity network's dry is the clip
    assert page.record == estimator.analyse_many([clip])[0].to_json("riff.wav")  # nothing refined: the blind answer


def test_refining_without_the_dry_re_renders_onto_the_clean_guitar(tmp_path, estimator, identity, wet):
    page = analyse_upload(estimator, tmp_path / "job", str(wet), refine=True, refine_seconds=3.0,
                          recovery=recovery_network(identity))
    blind = estimator.analyse_many([read_clip(wet, SR)])[0].chain
    record = page.record
    assert record["dry"] == "recovered" and record["estimate"] == "blind"
    assert record["refine"].startswith("distance to the clip: recovered dry 0.000, ")  # the clip's own dry: 0
    after = page.analysis.chain
    assert record["refine_changed"] == ("pedals" if sorted(blind.effects) != sorted(after.effects) else
                                        "order" if blind.effects != after.effects else
                                        "knobs" if blind != after else "nothing")
    assert after.pedals  # a recovered dry never answers "no pedal at all"
    line = status_line(page, "riff.wav")
    assert "re-render on the clean guitar recovered from the clip (no dry was given) sounds" in line
    assert "the recovered dry alone 0.00, " in line
    assert json.loads((tmp_path / "job" / "riff_pedals.json").read_text()) == record


def test_without_a_network_the_page_has_no_clean_guitar_and_says_why_it_cannot_refine(tmp_path, estimator, wet,
                                                                                     monkeypatch):
    monkeypatch.setattr(page_analysis, "DEFAULT_DRY_RECOVERY", tmp_path / "none.safetensors")  # none ships
    assert recovery_network() is None
    page = analyse_upload(estimator, tmp_path / "job", str(wet), recovery=recovery_network())
    assert page.clean is None and not [p for p in page.downloads if "clean" in p.name]
    with pytest.raises(DdspfxError, match="no dry-recovery network is installed") as caught:
        analyse_upload(estimator, tmp_path / "job2", str(wet), refine=True, recovery=None)
    assert "\n" not in str(caught.value)
    with pytest.raises(DdspfxError, match="not found"):
        recovery_network(tmp_path / "missing.safetensors")  # a path the visitor gave: said, not ignored


def test_the_refinement_process_hears_where_the_dry_came_from(estimator, wet):
    """The page refines in its own process (``refine_in_process``): a recovered dry that is the clip itself keeps the
    estimate's pedals there too, while a given one answers "no pedal at all"."""
    from ddspfx.app.jobs import refine_in_process
    from ddspfx.refine import level_dry

    clip = read_clip(wet, SR)
    analysis = estimator.analyse_many([clip])[0]
    if not analysis.chain.pedals:
        pytest.fail("the shipped model heard no pedal on a distortion and a delay")
    seen: list[str] = []
    got = refine_in_process(clip, level_dry(clip), analysis, SR, 3, lambda f, d: seen.append(d),
                            cancel=threading.Event(), budget_s=2.0, dry_source="recovered")
    assert got.dry_source == "recovered" and got.analysis.chain.pedals and seen


def test_the_page_plays_the_clean_guitar_beside_the_clip(tmp_path, estimator, identity, wet):
    """In a real browser: with the network, "the clean guitar" player appears among the A/B players after the
    analysis, playable and as long as the clip, and Advanced says refining works without the dry."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs selenium: pip install selenium")
    from test_app_browser import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS, _upload_and_analyse

    from ddspfx.app.page import CLEAN_LABEL, build_app, launch
    from ddspfx.app.workspace import Workspace

    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("the browser test needs Debian's chromium and chromium-driver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    workspace = Workspace.create()
    demo = build_app(estimator, workspace, recovery=recovery_network(identity))
    _, url = launch(demo, workspace, "127.0.0.1", 0, block=False, quiet=True)
    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(url)
        assert not any(e.is_displayed() for e in driver.find_elements(By.ID, "ddspfx-clean"))  # nothing yet
        _upload_and_analyse(driver, wet)
        WebDriverWait(driver, 300).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ddspfx-chain .ddspfx-pedal"),
                                         message=driver.find_element(By.ID, "ddspfx-status").text)
        WebDriverWait(driver, 30).until(lambda d: d.execute_script(
            "const a = document.querySelector('#ddspfx-clean audio'); return a && a.readyState >= 1"),
            message=driver.find_element(By.ID, "ddspfx-clean").get_attribute("outerHTML")[:2000])
        assert driver.execute_script("return document.querySelector('#ddspfx-clean audio').duration") == \
            pytest.approx(3.0, abs=0.01)
        label = driver.find_element(By.CSS_SELECTOR, "#ddspfx-clean label[data-testid='block-label']")
        assert label.text == CLEAN_LABEL
        assert driver.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth + 1", label)
        assert driver.find_elements(By.CSS_SELECTOR, ".ddspfx-ab #ddspfx-clean")  # A/B with the clip
        driver.find_element(By.CSS_SELECTOR, "#ddspfx-advanced .label-wrap").click()
        WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "ddspfx-advanced-text").is_displayed())
        text = " ".join(driver.find_element(By.ID, "ddspfx-advanced-text").text.split())
        assert "refining re-renders the candidates onto the clean guitar recovered from the clip" in text
    finally:
        driver.quit()
        demo.close()
        workspace.close()
