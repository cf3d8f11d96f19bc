"""The listening-test page (Gradio Blocks): a listener id, then one MUSHRA trial after another.

The reference plays openly; A-D are the four conditions in the listener's stored random order, each
with a 0-100 slider (BS.1534's scale: 0-20 bad, 20-40 poor, 40-60 fair, 60-80 good, 80-100 excellent).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ddspfx.app.listening import CONDITIONS, ListeningTest
from ddspfx.app.page import PLAIN_PLAYER
from ddspfx.app.workspace import Workspace
from ddspfx.errors import DdspfxError

LETTERS = "ABCD"

INSTRUCTIONS = """# ddspfx listening test (MUSHRA, ITU-R BS.1534)
Enter your listener id and press **Start** (the same id later resumes where you stopped).
In each trial, listen to the **reference** and to **A-D**, as often as you like. Rate how close each
is to the reference, from 0 (bad) to 100 (excellent): one of A-D *is* the reference, so rate it 100.
Then press **Save and next**; your ratings are stored at once."""


def build_listening_app(test: ListeningTest, workspace: Workspace) -> gr.Blocks:
    trial_ids = [t.id for t in test.trials]

    def show(listener: str) -> tuple[Any, ...]:
        plan = test.store.plan(listener, trial_ids)
        position = test.store.next_position(listener)
        state = {"listener": listener, "position": position}
        if position >= len(plan):
            done = f"Thank you, **{listener}**: all {len(plan)} trials are rated."
            return (state, done, None, *([None] * len(LETTERS)), *([0] * len(LETTERS)))
        trial, conditions = plan[position]
        header = f"Listener **{listener}**, trial {position + 1} of {len(plan)}"
        audio = [str(test.stimulus(trial, c)) for c in conditions]
        return (state, header, str(test.stimulus(trial, "reference")), *audio, *([0] * len(LETTERS)))

    def start(listener: str) -> tuple[Any, ...]:
        try:
            return show((listener or "").strip())
        except DdspfxError as exc:
            return (None, f"ddspfx: error: {exc}", None, *([None] * len(LETTERS)), *([0] * len(LETTERS)))

    def save_next(state: dict[str, Any] | None, *scores: float) -> tuple[Any, ...]:
        if not state:
            return (state, "Enter your listener id and press Start first.", *([gr.update()] * (2 * len(LETTERS) + 1)))
        try:
            test.store.save(state["listener"], int(state["position"]), list(scores))
        except DdspfxError as exc:
            return (state, f"ddspfx: error: {exc}", *([gr.update()] * (2 * len(LETTERS) + 1)))
        return show(state["listener"])

    def export() -> str:
        return str(test.store.export_csv(workspace.job_dir() / "ratings.csv"))

    with gr.Blocks(title="ddspfx listening test", analytics_enabled=False) as demo:
        gr.Markdown(INSTRUCTIONS)
        state = gr.State(None)
        with gr.Row():
            listener = gr.Textbox(label="listener id", elem_id="mushra-listener", max_lines=1)
            begin = gr.Button("Start", variant="primary", elem_id="mushra-start")
        header = gr.Markdown(elem_id="mushra-status")
        with gr.Column(elem_classes=["ddspfx-ab"]):  # A/B switching at the same position (page.AB_SYNC_JS)
            reference = gr.Audio(type="filepath", label="reference", interactive=False, elem_id="mushra-reference",
                                 waveform_options=PLAIN_PLAYER)
            players, sliders = [], []
            with gr.Row():
                for letter in LETTERS:
                    with gr.Column(min_width=180):
                        players.append(gr.Audio(type="filepath", label=letter, interactive=False,
                                                elem_id=f"mushra-audio-{letter}", waveform_options=PLAIN_PLAYER))
                        sliders.append(gr.Slider(0, 100, value=0, step=1,
                                                 label=f"{letter}: 0 bad ... 100 excellent",
                                                 elem_id=f"mushra-score-{letter}"))
        save = gr.Button("Save and next", variant="primary", elem_id="mushra-save")
        with gr.Accordion("for the experimenter", open=False):
            gr.Markdown(f"Conditions: {', '.join(CONDITIONS)}; anchor: {test.anchor}; "
                        f"{len(trial_ids)} trials; database `{test.store.path}`.")
            csv_button = gr.Button("Export ratings as CSV")
            csv_file = gr.File(label="ratings.csv", interactive=False)
        outputs = [state, header, reference, *players, *sliders]
        begin.click(start, inputs=listener, outputs=outputs, api_name="start")
        listener.submit(start, inputs=listener, outputs=outputs)
        save.click(save_next, inputs=[state, *sliders], outputs=outputs, api_name="save")
        csv_button.click(export, inputs=None, outputs=csv_file, api_name="export_csv")
    return demo
