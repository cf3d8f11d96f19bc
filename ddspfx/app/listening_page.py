"""The listening-test page (Gradio Blocks): a listener id, then one blind MUSHRA trial after another, then "finished".

The reference plays openly; A-D are the four conditions in the listener's stored random order, each
with a 0-100 slider (BS.1534's scale: 0-20 bad, 20-40 poor, 40-60 fair, 60-80 good, 80-100 excellent).

Blind: every player gets a fresh copy of its stimulus under a random name in Gradio's cache folder
(:func:`ddspfx.app.listening.blind_copy`; a file already there is served as it is, not re-named by its
content), the players have no download or share button and the browser's menu offers no download, and
the mapping from letter to condition stays in the server's session state. The page notes every play
(``window.ddspfxPlayed``, :data:`ddspfx.app.page.PAGE_JS`) and Save sends that list: a trial whose
stimuli were not all played is not saved (:func:`ddspfx.app.listening.unplayed`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import IO, Any

import gradio as gr

from ddspfx.app.analysis import MAX_UPLOAD_MB
from ddspfx.app.listening import ListeningTest, blind_copy, unplayed
from ddspfx.app.page import PLAIN_PLAYER, launch
from ddspfx.app.workspace import Workspace
from ddspfx.errors import DdspfxError
from ddspfx.estimator import Estimator

LETTERS = "ABCD"

INSTRUCTIONS = """# ddspfx listening test (MUSHRA, ITU-R BS.1534)
Enter your listener id and press **Start** (the same id later resumes where you stopped).
In each trial, listen to the **reference** and to each of **A-D** (every one at least once; as often as you
like). Rate how close each is to the reference, from 0 (bad) to 100 (excellent): one of A-D *is* the
reference, so rate it 100. Then press **Save and next**; your ratings are stored at once."""

# Save sends the URLs this page has played (window.ddspfxPlayed, noted by page.PAGE_JS) in place of the hidden box
SAVE_JS = """
(...args) => {
  args[1] = JSON.stringify(Array.from(window.ddspfxPlayed || []));
  return args;
}
"""


def build_listening_app(test: ListeningTest, workspace: Workspace) -> gr.Blocks:
    """The listening test's page; launch it with :func:`ddspfx.app.page.launch`."""
    trial_ids = [t.id for t in test.trials]
    unchanged = [gr.update()] * (3 + 2 * len(LETTERS))  # trial box, reference, players, sliders, save button

    def forget(state: dict[str, Any] | None) -> None:
        """Remove the copies served for the trial shown before (the page no longer points at them)."""
        for path in (state or {}).get("paths", []):
            shutil.rmtree(Path(path).parent, ignore_errors=True)

    def show(listener: str, before: dict[str, Any] | None = None, note: str = "") -> tuple[Any, ...]:
        plan = test.store.plan(listener, trial_ids)
        position = test.store.next_position(listener)
        forget(before)
        state: dict[str, Any] = {"listener": listener, "position": position, "served": [], "paths": []}
        if position >= len(plan):
            done = (f"Thank you, **{listener}**: all {len(plan)} trials are rated and saved. "
                    "The test is finished; you can close this page.")
            return (state, done, gr.update(visible=False), None, *([None] * len(LETTERS)),
                    *([0] * len(LETTERS)), gr.update(visible=False))
        trial, conditions = plan[position]
        cache = Path(reference.GRADIO_CACHE)  # served from where it lies: Gradio renames nothing already there
        copies = [blind_copy(test.stimulus(trial, c), cache) for c in ("reference", *conditions)]
        state["served"] = [(label, p.name) for label, p in zip(("reference", *LETTERS), copies)]
        state["paths"] = [str(p) for p in copies]
        header = f"Listener **{listener}**, trial {position + 1} of {len(plan)}" + (f". {note}" if note else "")
        return (state, header, gr.update(visible=True), *[str(p) for p in copies], *([0] * len(LETTERS)),
                gr.update(visible=True))

    def start(listener: str, before: dict[str, Any] | None) -> tuple[Any, ...]:
        try:
            return show((listener or "").strip(), before)
        except DdspfxError as exc:
            return (before, f"ddspfx: error: {exc}", *unchanged)

    def save_next(state: dict[str, Any] | None, played: str | None, *scores: float) -> tuple[Any, ...]:
        if not state:
            return (state, "Enter your listener id and press Start first.", *unchanged)
        if not state["served"]:  # finished: nothing to save, the finished screen again
            return show(state["listener"], state)
        try:
            heard = json.loads(played or "[]")
        except ValueError:
            heard = []
        missing = unplayed(state["served"], heard if isinstance(heard, list) else [])
        if missing:
            return (state, f"Listener **{state['listener']}**, trial {int(state['position']) + 1}: play "
                           f"{', '.join(missing)} before saving (each sample at least once).", *unchanged)
        try:
            test.store.save(state["listener"], int(state["position"]), list(scores))
        except DdspfxError as exc:
            return (state, f"ddspfx: error: {exc}", *unchanged)
        return show(state["listener"], state, note="The last trial was saved.")

    with gr.Blocks(title="ddspfx listening test", analytics_enabled=False) as demo:
        gr.Markdown(INSTRUCTIONS)
        state = gr.State(None)
        played = gr.Textbox(visible=False)
        with gr.Row():
            listener = gr.Textbox(label="listener id", elem_id="mushra-listener", max_lines=1)
            begin = gr.Button("Start", variant="primary", elem_id="mushra-start")
        header = gr.Markdown(elem_id="mushra-status")
        # A/B switching at the same position (page.PAGE_JS), no download in the browser's menu (.ddspfx-blind)
        with gr.Column(elem_classes=["ddspfx-ab", "ddspfx-blind"], visible=False, elem_id="mushra-trial") as trial_box:
            reference = gr.Audio(type="filepath", label="reference", interactive=False, elem_id="mushra-reference",
                                 waveform_options=PLAIN_PLAYER, buttons=[])
            players, sliders = [], []
            with gr.Row():
                for letter in LETTERS:
                    with gr.Column(min_width=180):
                        players.append(gr.Audio(type="filepath", label=letter, interactive=False, buttons=[],
                                                elem_id=f"mushra-audio-{letter}", waveform_options=PLAIN_PLAYER))
                        sliders.append(gr.Slider(0, 100, value=0, step=1,
                                                 label=f"{letter}: 0 bad ... 100 excellent",
                                                 elem_id=f"mushra-score-{letter}"))
        save = gr.Button("Save and next", variant="primary", elem_id="mushra-save", visible=False)
        outputs = [state, header, trial_box, reference, *players, *sliders, save]
        begin.click(start, inputs=[listener, state], outputs=outputs, api_name="start")
        listener.submit(start, inputs=[listener, state], outputs=outputs)
        save.click(save_next, inputs=[state, played, *sliders], outputs=outputs, api_name="save", js=SAVE_JS)
    return demo


def serve_listening_test(workspace: Workspace, host: str, port: int, folder: str, db: Path,
                         checkpoint: str | None = None, max_mb: float | None = None, max_trials: int = 12,
                         anchor: str = "lowpass", include_dry: bool = False, refine_steps: int = 150,
                         log: IO[str] | None = None) -> None:
    """``python -m ddspfx.app --listening-test DIR``: load the model, render the trials' stimuli (cached), serve
    the test until stopped."""
    max_mb = max_mb or MAX_UPLOAD_MB
    estimator = Estimator(checkpoint)
    test = ListeningTest.open(folder, db, max_trials=max_trials, anchor=anchor, include_dry=include_dry)
    print(f"preparing {len(test.trials)} trial(s) in {test.stimuli_dir} (cached for restarts)", file=log, flush=True)
    test.prepare(estimator, refine_steps=refine_steps, model=checkpoint or "shipped", log=log)
    launch(build_listening_app(test, workspace), workspace, host, port, max_mb=max_mb)
