"""End to end in a real headless browser: the analysis page as a newcomer meets it (the first screen, an example,
an upload, refinement under its time limit, a bad clip) and a whole blind listening-test session.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium chromium-driver``) and
``pip install selenium``; skipped with the reason when one is missing. ``DDSPFX_APP_SCREENSHOT=PATH``
also saves the analysed page there (README's ``docs/app.png`` is made that way).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
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
    link = browser.find_element(By.CSS_SELECTOR, "#ddspfx-files a[href*='solo_pedals.json']").get_attribute("href")
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


# --- the first screen, the examples, refinement ------------------------------------------------------------------

VIEWPORT = (1280, 800)
"""A laptop's first screen: what a newcomer sees before scrolling."""


def _viewport(driver, width: int, height: int) -> None:
    """Make the page's viewport exactly width x height CSS pixels (a window size would include the browser's own bars)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def _shown(driver, element_id: str) -> bool:
    """Whether the element is on the page and visible (a folded accordion or a hidden block leaves it out)."""
    return any(e.is_displayed() for e in driver.find_elements(By.ID, element_id))


def _rect(driver, css: str) -> dict[str, float]:
    return driver.execute_script("const r = document.querySelector(arguments[0]).getBoundingClientRect();"
                                 "return {left: r.left, top: r.top, right: r.right, bottom: r.bottom};", css)


def test_the_first_screen_holds_the_upload_analyse_and_the_examples(app_url, browser, tmp_path: Path) -> None:
    from PIL import Image

    url, _ = app_url
    width, height = VIEWPORT
    _viewport(browser, width, height)
    browser.get(url)
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ddspfx-examples button"))
    assert browser.execute_script("return [window.innerWidth, window.innerHeight]") == [width, height]
    for css in ("#ddspfx-wet", "#ddspfx-analyse", "#ddspfx-examples"):
        r = _rect(browser, css)
        assert 0 <= r["left"] < r["right"] <= width and 0 <= r["top"] < r["bottom"] <= height, (css, r)
    analyse, upload = _rect(browser, "#ddspfx-analyse"), _rect(browser, "#ddspfx-wet")
    assert analyse["left"] >= upload["right"] and analyse["top"] < upload["bottom"]  # beside the upload
    # the dry inputs wait, folded, under Advanced
    assert browser.find_element(By.ID, "ddspfx-advanced").is_displayed()
    assert not _shown(browser, "ddspfx-dry") and not _shown(browser, "ddspfx-refine-seconds")
    shot = tmp_path / "first_screen.png"
    browser.save_screenshot(str(shot))
    with Image.open(shot) as image:
        assert image.size == (width, height)
        rgb = image.convert("RGB")
        button = rgb.getpixel((int((analyse["left"] + analyse["right"]) / 2), int(analyse["top"] + 6)))
        page = rgb.getpixel((width - 5, height - 5))
    assert button != page and button[0] > 200 > button[2]  # the orange (primary) Analyse button is in the picture


def test_an_example_analyses_and_its_downloads_are_named_after_it(app_url, browser) -> None:
    from ddspfx.app.examples import EXAMPLES

    url, estimator = app_url
    example = EXAMPLES[0]
    browser.get(url)
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ddspfx-examples button"))
    browser.find_element(By.XPATH, f"//*[@id='ddspfx-examples']//button[normalize-space(.)='{example.label}']").click()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ddspfx-wet #waveform, #ddspfx-wet audio"))
    browser.find_element(By.ID, "ddspfx-analyse").click()
    WebDriverWait(browser, 120).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ddspfx-chain .ddspfx-pedal"))
    assert f"Analysed {example.stem}.wav" in browser.find_element(By.ID, "ddspfx-status").text
    files = {a.get_attribute("href").rsplit("/", 1)[-1] for a in browser.find_elements(By.CSS_SELECTOR, "#ddspfx-files a")}
    assert {f"{example.stem}_pedals.json", f"{example.stem}_board.py"} <= files
    assert not _shown(browser, "ddspfx-json")  # the JSON is folded away
    assert not _shown(browser, "ddspfx-refined")  # no refinement ran: no refine line
    assert "distance" not in browser.find_element(By.TAG_NAME, "body").text
    # each player's label is whole (not cut off with an ellipsis)
    labels = browser.find_elements(By.CSS_SELECTOR, ".ddspfx-ab label[data-testid='block-label']")
    shown = [lab for lab in labels if lab.is_displayed()]
    assert len(shown) >= 2
    for lab in shown:
        assert browser.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth + 1", lab), lab.text


def test_refinement_runs_to_its_time_limit_with_one_moving_bar_and_explains_the_distance(
        app_url, browser, tmp_path: Path) -> None:
    from ddspfx.sources import make_source

    url, _ = app_url
    dry = make_source("synth", sample_rate=SR).sample(np.random.default_rng(5), 3.0)
    chain = Chain.from_list([{"effect": "distortion", "params": {"drive_db": 26.0}},
                             {"effect": "delay", "params": {"delay_seconds": 0.3, "feedback": 0.4, "mix": 0.4}}])
    sf.write(tmp_path / "lead.wav", render_chain(dry, chain, SR)[0], SR)
    sf.write(tmp_path / "lead_di.wav", dry, SR)
    browser.get(url)
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ddspfx-wet input[type=file]"))
    browser.find_element(By.CSS_SELECTOR, "#ddspfx-wet input[type=file]").send_keys(str(tmp_path / "lead.wav"))
    browser.find_element(By.CSS_SELECTOR, "#ddspfx-advanced .label-wrap").click()
    WebDriverWait(browser, 10).until(lambda d: _shown(d, "ddspfx-dry"))
    browser.find_element(By.CSS_SELECTOR, "#ddspfx-dry input[type=file]").send_keys(str(tmp_path / "lead_di.wav"))
    browser.find_element(By.CSS_SELECTOR, "#ddspfx-refine input").click()
    limit = browser.find_element(By.CSS_SELECTOR, "#ddspfx-refine-seconds input[type=number]")
    limit.clear()
    limit.send_keys("15\n")  # 15 s: on a loaded machine the fitting process alone took 5 s to start (no tick shown)
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ddspfx-dry #waveform, #ddspfx-dry audio"))
    browser.find_element(By.ID, "ddspfx-analyse").click()
    seen: list[str] = []
    bars: list[int] = []
    deadline = time.monotonic() + 120
    while not _shown(browser, "ddspfx-refined"):
        assert time.monotonic() < deadline, "refinement never finished"
        shown = browser.execute_script(
            "return Array.from(document.querySelectorAll('.progress-level')).filter(e => e.offsetParent !== null)"
            ".map(e => e.textContent.trim())")
        bars.append(len(shown))
        seen += [t for t in shown if t.startswith("refining:") and (not seen or seen[-1] != t)]
        time.sleep(0.25)
    assert max(bars) == 1  # one progress bar, never two on top of each other
    assert any("s of at most ~15 s" in t for t in seen) and len(seen) >= 3, seen  # it moved with the clock
    refined = browser.find_element(By.ID, "ddspfx-refined").text
    assert "(limit 15 s)" in refined and "0 is the same sound, lower is closer" in refined
    assert "the model's estimate" in refined and "refined" in refined


# --- a whole listening-test session, blind ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def listening(tmp_path_factory: pytest.TempPathFactory):
    from ddspfx.app.listening import CONDITIONS, ListeningTest
    from ddspfx.app.listening_page import build_listening_app
    from ddspfx.app.page import launch
    from ddspfx.app.workspace import Workspace
    from ddspfx.estimator import Estimator
    from ddspfx.sources import make_source

    root = tmp_path_factory.mktemp("listening")
    chain = Chain.from_list([{"effect": "distortion", "params": {"drive_db": 24.0}}])
    for kind in ("wet", "dry"):
        (root / "pairs" / kind).mkdir(parents=True)
    for i, name in enumerate(("riff", "lick", "clean")):
        dry = make_source("synth", sample_rate=SR).sample(np.random.default_rng(i), 1.5)
        sf.write(root / "pairs" / "dry" / f"{name}.wav", dry, SR, subtype="FLOAT")
        sf.write(root / "pairs" / "wet" / f"{name}.wav", dry if name == "clean" else render_chain(dry, chain, SR)[0],
                 SR, subtype="FLOAT")
    test = ListeningTest.open(root / "pairs", root / "ratings.sqlite")
    assert sorted(t.id for t in test.trials) == ["lick", "riff"] and CONDITIONS  # "clean" has no pedal: left out
    test.prepare(Estimator(), refine_steps=0)
    workspace = Workspace.create(root)
    demo = build_listening_app(test, workspace)
    _, url = launch(demo, workspace, "127.0.0.1", 0, block=False, quiet=True)
    yield url, test
    demo.close()
    workspace.close()


REVEALING = ("reference", "estimate", "refined", "anchor", "riff", "lick")
"""Words that would tell a listener which condition (or which clip) a lettered player holds."""


def _trial_players(driver) -> dict[str, str]:
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(
        "const a = document.querySelectorAll('#mushra-trial audio');"
        "return a.length === 5 && Array.from(a).every(x => x.currentSrc)"))
    return driver.execute_script(
        "const out = {}; for (const id of ['reference', 'audio-A', 'audio-B', 'audio-C', 'audio-D'])"
        "  out[id] = document.querySelector('#mushra-' + id + ' audio').currentSrc; return out;")


def _check_blind(driver) -> None:
    """Nothing in a lettered player's block, nor any URL, file name or title on the page, names a condition."""
    srcs = _trial_players(driver)
    assert len(set(srcs.values())) == 5  # the open and the hidden reference are not the same URL
    for src in srcs.values():
        assert re.fullmatch(r"[0-9a-f]{16}\.wav", src.rsplit("/", 1)[-1]), src
        assert re.fullmatch(r"[0-9a-f]{32}", src.rsplit("/", 2)[-2]), src
    for letter in "ABCD":
        block = driver.find_element(By.ID, f"mushra-audio-{letter}")
        said = driver.execute_script(
            "const out = [arguments[0].innerText];"
            "for (const e of [arguments[0], ...arguments[0].querySelectorAll('*')])"
            "  for (const a of e.attributes) out.push(a.value);"
            "return out.join(' ').toLowerCase();", block)
        assert not [w for w in REVEALING if w in said], (letter, said)
    assert driver.title == "ddspfx listening test"
    values = driver.execute_script(
        "const out = [];"
        "for (const e of document.querySelectorAll('[title], [href], [src], [download], [aria-label]'))"
        "  for (const n of ['title', 'href', 'src', 'download', 'aria-label']) if (e.getAttribute(n)) out.push(e.getAttribute(n));"
        "for (const m of document.querySelectorAll('audio')) out.push(m.currentSrc);"
        "return out;")
    said = [v.split("/gradio/", 1)[-1].lower() for v in values]  # a served URL: what it says below the app's folder
    assert not [v for v in said for w in REVEALING if w in v], said
    # no download or share controls on the players, and the browser's own menu offers no download
    trial = driver.find_element(By.ID, "mushra-trial")
    assert not trial.find_elements(By.CSS_SELECTOR, "a[download], [data-testid='download-link'], button[title*='hare']")
    assert driver.execute_script("return Array.from(document.querySelectorAll('#mushra-trial audio'))"
                                 ".every(a => (a.getAttribute('controlslist') || '').includes('nodownload'))")


def _status(driver) -> str:
    return driver.find_element(By.ID, "mushra-status").text


def test_a_whole_listening_session_is_blind_heard_before_saved_and_ends_finished(listening, browser) -> None:
    from ddspfx.app.listening import RatingStore

    url, test = listening
    browser.get(url)
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#mushra-listener textarea, #mushra-listener input"))
    browser.find_element(By.CSS_SELECTOR, "#mushra-listener textarea, #mushra-listener input").send_keys("kim")
    browser.find_element(By.ID, "mushra-start").click()
    WebDriverWait(browser, 30).until(lambda d: "trial 1 of 2" in _status(d))
    before: set[str] = set()
    for trial in (1, 2):
        _check_blind(browser)
        srcs = set(_trial_players(browser).values())
        assert not srcs & before  # fresh names for every trial
        before |= srcs
        # Save before playing anything: refused, nothing stored
        browser.find_element(By.ID, "mushra-save").click()
        WebDriverWait(browser, 30).until(lambda d: "before saving" in _status(d))
        assert "play reference, A, B, C, D before saving" in _status(browser)
        assert len(RatingStore(test.store.path).ratings()) == 4 * (trial - 1)
        # play each in turn (as a click on its play button would), rate, save
        for player in ("reference", "audio-A", "audio-B", "audio-C", "audio-D"):
            css = f"#mushra-{player} audio"
            assert browser.execute_script(f"return document.querySelector('{css}').play().then(() => 'ok', String)") == "ok"
            WebDriverWait(browser, 20).until(
                lambda d, css=css: d.execute_script(f"return document.querySelector('{css}').currentTime > 0.2"))
        browser.execute_script("document.querySelectorAll('#mushra-trial audio').forEach(a => a.pause())")
        for letter, score in zip("ABCD", (100, 70, 40, 10)):
            box = browser.find_element(By.CSS_SELECTOR, f"#mushra-score-{letter} input[type=number]")
            box.clear()
            box.send_keys(f"{score}\n")
        browser.find_element(By.ID, "mushra-save").click()
        expected = "trial 2 of 2. The last trial was saved" if trial == 1 else "Thank you, kim: all 2 trials are rated"
        WebDriverWait(browser, 30).until(lambda d, expected=expected: expected in _status(d))
    # the end: a finished screen, no players, no Save, no error
    assert "The test is finished" in _status(browser)
    assert not _shown(browser, "mushra-trial") and not _shown(browser, "mushra-save")
    assert "error" not in browser.find_element(By.TAG_NAME, "body").text.lower()
    rows = [r for r in RatingStore(test.store.path).ratings() if r["listener"] == "kim"]
    assert len(rows) == 8 and sorted({r["score"] for r in rows}) == [10, 40, 70, 100]
