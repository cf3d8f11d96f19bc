"""End to end in a real headless browser: open the page, upload a clip, read the chain, play a re-render.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium chromium-driver``) and
``pip install selenium``; skipped with the reason when one is missing. ``DDSPFX_APP_SCREENSHOT=PATH``
also saves the analysed page there (README's ``docs/app.png`` is made that way).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("gradio", reason="the web app needs the app extra: pip install 'ddspfx[app]'")
webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs selenium: pip install selenium")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip("the browser test needs Debian's chromium and chromium-driver "
                "(apt-get install -y chromium chromium-driver)", allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from ddspfx.chain import Chain  # noqa: E402
from ddspfx.render import render_chain  # noqa: E402

SR = 44_100

pytestmark = [  # Gradio's queue calls pandas APIs that pandas 3 deprecates: theirs, not ours
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting:Warning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning"),
]

# flags that work in a container with no display, sandbox, GPU or network
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--autoplay-policy=no-user-gesture-required", "--window-size=1400,1900")


@pytest.fixture(scope="module")
def app_url():
    from ddspfx.app.page import build_app, launch
    from ddspfx.app.workspace import Workspace
    from ddspfx.estimator import Estimator

    workspace = Workspace.create()
    estimator = Estimator()
    demo = build_app(estimator, workspace)
    _, url = launch(demo, workspace, "127.0.0.1", 0, block=False, quiet=True)
    yield url, estimator
    demo.close()
    workspace.close()


@pytest.fixture
def browser(tmp_path: Path):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.binary_location = CHROMIUM
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except Exception as exc:  # a browser that is installed but cannot start here
        pytest.skip(f"chromium could not start: {str(exc).splitlines()[0]}")
    yield driver
    driver.quit()


def _clip(folder: Path) -> Path:
    from ddspfx.sources import make_source

    dry = make_source("synth", sample_rate=SR).sample(np.random.default_rng(7), 3.0)
    chain = Chain.from_list([{"effect": "distortion", "params": {"drive_db": 28.0}},
                             {"effect": "reverb", "params": {"room_size": 0.8, "damping": 0.4, "wet_level": 0.45,
                                                             "dry_level": 0.7}}])
    wet, _ = render_chain(dry, chain, SR)
    path = folder / "solo.wav"
    sf.write(path, wet, SR)
    return path


def _upload_and_analyse(driver, path: Path) -> None:
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ddspfx-wet input[type=file]"))
    driver.find_element(By.CSS_SELECTOR, "#ddspfx-wet input[type=file]").send_keys(str(path))
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ddspfx-wet #waveform, #ddspfx-wet audio"))
    driver.find_element(By.ID, "ddspfx-analyse").click()


def test_upload_read_the_chain_and_play_a_rerender(app_url, browser, tmp_path: Path) -> None:
    url, estimator = app_url
    clip = _clip(tmp_path)
    browser.get(url)
    _upload_and_analyse(browser, clip)
    WebDriverWait(browser, 120).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ddspfx-chain .ddspfx-pedal"))
    pedals = browser.find_elements(By.CSS_SELECTOR, "#ddspfx-chain .ddspfx-pedal")
    on_page = [p.get_attribute("data-effect") for p in pedals]
    expected = estimator.analyse(sf.read(clip, dtype="float32")[0], SR)
    assert on_page == expected.chain.effects
    # each knob in real units, as the command line prints the chain
    described = browser.find_element(By.CSS_SELECTOR, "#ddspfx-chain .ddspfx-describe").text
    assert described.splitlines()[0] == str(expected.chain)
    assert "Analysed solo.wav" in browser.find_element(By.ID, "ddspfx-status").text
    # the chain JSON download (the `infer --json` object), fetched as a visitor's click would
    link = browser.find_element(By.CSS_SELECTOR, "#ddspfx-files a[href*='solo_chain.json']").get_attribute("href")
    record = json.loads(browser.execute_async_script(
        "const done = arguments[arguments.length - 1]; fetch(arguments[0]).then(r => r.text()).then(done);", link))
    assert [p["effect"] for p in record["chain"]] == on_page and record["file"] == "solo.wav"

    # play the re-render on the built-in dry phrase: it is served and its clock runs
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(
        "const a = document.querySelector('#ddspfx-builtin_dry audio'); return a && a.readyState >= 1"))
    assert browser.execute_script("return document.querySelector('#ddspfx-builtin_dry audio').duration") == \
        pytest.approx(3.0, abs=0.01)
    played = browser.execute_script(
        "const a = document.querySelector('#ddspfx-clip audio');"
        "return a.play().then(() => 'playing', e => String(e));")
    assert played == "playing"
    WebDriverWait(browser, 10).until(lambda d: d.execute_script(
        "return document.querySelector('#ddspfx-clip audio').currentTime > 0.8"))
    browser.execute_script("document.querySelector('#ddspfx-builtin_dry audio').play()")
    WebDriverWait(browser, 10).until(lambda d: d.execute_script(
        "return document.querySelector('#ddspfx-builtin_dry audio').currentTime > 0.9"))
    clip_t, clip_paused, render_t = browser.execute_script(
        "const a = document.querySelector('#ddspfx-clip audio'), b = document.querySelector('#ddspfx-builtin_dry audio');"
        "return [a.currentTime, a.paused, b.currentTime];")
    assert clip_paused and render_t >= clip_t  # A/B: the re-render took over where the clip was
    browser.execute_script("document.querySelector('#ddspfx-builtin_dry audio').pause()")
    shot = tmp_path / "app.png"
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 50_000
    target = os.environ.get("DDSPFX_APP_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)


def test_a_bad_clip_shows_the_one_line_message(app_url, browser, tmp_path: Path) -> None:
    url, _ = app_url
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(SR, np.float32), SR)
    browser.get(url)
    _upload_and_analyse(browser, quiet)
    WebDriverWait(browser, 60).until(lambda d: "ddspfx: error:" in d.find_element(By.ID, "ddspfx-status").text)
    message = browser.find_element(By.ID, "ddspfx-status").text
    assert message.startswith("ddspfx: error: quiet.wav is silent (digital silence")
    assert not browser.find_elements(By.CSS_SELECTOR, "#ddspfx-chain .ddspfx-pedal")
