"""The analysis page (Gradio Blocks): drop or record a clip (or pick an example), see the pedals, hear the chain,
take it away. What a newcomer needs first (the upload, Analyse, the examples) fits the first screen; the dry
recordings and refinement wait under "Advanced", the JSON under its own fold.

One event, ``analyse`` (also the HTTP API ``/gradio_api/call/analyse``), runs at a time through Gradio's
queue (``concurrency_limit=1``): a second visitor's request waits in line with its place shown, and
the model is never used by two threads at once. Cancel stops the request; a refinement running in
its own process is terminated (``ddspfx.app.jobs``).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import gradio as gr

from ddspfx.app.analysis import (
    MAX_UPLOAD_MB,
    REFINE_STEPS,
    analyse_upload,
    chain_html,
    error_line,
    recovery_network,
    status_line,
)
from ddspfx.app.examples import EXAMPLES, write_examples
from ddspfx.app.jobs import CancelFlags, Cancelled, refine_in_process
from ddspfx.app.workspace import Workspace
from ddspfx.config import DEFAULT_BUDGET_S
from ddspfx.dry_recovery import DryRecoveryNet
from ddspfx.errors import DdspfxError
from ddspfx.estimator import Estimator, dry_estimator

TITLE = "ddspfx: which pedals, in which order, with which settings"

INTRO = """# ddspfx: which pedals, in which order, with which settings
Drop or record a **wet guitar clip** (any length, any format soundfile reads), or pick an example below, then press
**Analyse**."""

ADVANCED = """Give the clip's own **dry** recording (the DI it was made from) to hear the estimated chain on it (a), to
let the dry-aware model answer, and to **refine** the chain: candidate chains are fitted until they sound like the
clip (analysis by synthesis). The time limit decides how far that search gets. Your own **dry guitar** gives (b)."""

ADVANCED_RECOVERED = """Without the clip's dry, refining re-renders the candidates onto **the clean guitar** recovered from
the clip (ddspfx's dry-recovery network takes the pedals off), and says whether that changed the answer."""

ADVANCED_NO_RECOVERY = """Without the clip's dry, refining is not offered: it would need ddspfx's dry-recovery network (to
recover the clean guitar from the clip), and none is installed yet."""

LISTEN = """## Listen
The estimated chain re-rendered with pedalboard onto (a) the clip's own dry, (b) your dry guitar (both under
Advanced) and (c) a built-in dry phrase. Starting one player continues from where the last one was (A/B)."""

LISTEN_CLEAN = """**The clean guitar** is the clip with its pedals taken off by ddspfx's dry-recovery network: a
distortion or a fuzz does not come off (many clean sounds give the same distorted one)."""

CLEAN_LABEL = "the clean guitar (recovered from the clip)"

PLAIN_PLAYER = gr.WaveformOptions(show_recording_waveform=False)
"""The browser's own <audio> player (Gradio's waveform player hides its media element, which A/B needs)."""

# Every page of the app runs this once. A/B switching at the same playback position: when one player in a
# .ddspfx-ab row starts, the one that played last pauses and the new one jumps to where it was. Every play is
# noted in window.ddspfxPlayed (the listening test's Save sends it: a stimulus must be heard before it is rated),
# and the players of a .ddspfx-blind block offer no download (the browser's menu) and no context menu.
PAGE_JS = """
() => {
  let last = null;
  window.ddspfxPlayed = new Set();
  document.addEventListener('play', (ev) => {
    const el = ev.target;
    if (!(el instanceof HTMLMediaElement)) return;
    window.ddspfxPlayed.add(el.currentSrc);
    if (!el.closest('.ddspfx-ab')) return;
    if (last && last !== el) {
      if (!last.paused) last.pause();
      if (Number.isFinite(last.currentTime) && last.currentTime < el.duration) el.currentTime = last.currentTime;
    }
    last = el;
  }, true);
  const blind = () => document.querySelectorAll('.ddspfx-blind audio').forEach((a) => {
    a.setAttribute('controlslist', 'nodownload noplaybackrate noremoteplayback');
    a.disablePictureInPicture = true;
    a.oncontextmenu = (e) => e.preventDefault();
  });
  new MutationObserver(blind).observe(document.body, {childList: true, subtree: true});
  blind();
}
"""
AB_SYNC_JS = PAGE_JS  # (its former name)

RENDER_LABELS = {
    "clip_dry": "(a) on the clip's own dry",
    "your_dry": "(b) on your dry guitar",
    "builtin_dry": "(c) on a built-in phrase",
}


def build_app(estimator: Estimator, workspace: Workspace, max_mb: float = MAX_UPLOAD_MB,
              dry_estimator: Estimator | None = None, recovery: DryRecoveryNet | None = None) -> gr.Blocks:
    """The analysis page as ``gradio.Blocks`` (launch it with :func:`launch`); ``dry_estimator`` answers clips
    uploaded with their own dry (``ddspfx.estimator.dry_estimator``), ``estimator`` the others. ``recovery`` (a
    dry-recovery network) gives "the clean guitar" player and refining without the dry; without it that player is
    hidden and the page says why. The example clips are rendered into ``workspace`` here
    (:mod:`ddspfx.app.examples`)."""
    flags = CancelFlags()
    example_paths = write_examples(workspace.root / "examples", estimator.sample_rate)

    def analyse(wet: str | None, dry: str | None, your_dry: str | None, refine: bool, refine_seconds: float,
                request: gr.Request, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        def empty(message: str) -> tuple[Any, ...]:
            hidden = gr.update(value=None, visible=False)
            return (message, gr.update(visible=False), hidden, None, None, None, hidden, hidden, None, hidden, None,
                    None, None)

        if not wet:
            return empty("Drop or record a wet guitar clip (or pick an example) first.")
        session = request.session_hash or "anonymous"
        cancel = flags.reset(session)

        def step(fraction: float, desc: str) -> None:
            progress(fraction, desc=desc)

        def refiner(wet: Any, dry: Any, analysis: Any, sample_rate: int, seconds: float, on_progress: Any,
                    dry_source: str = "given") -> Any:
            steps = REFINE_STEPS if seconds > 0 else 0
            return refine_in_process(wet, dry, analysis, sample_rate, steps, on_progress, cancel=cancel,
                                     budget_s=seconds if seconds > 0 else None, dry_source=dry_source)

        name = Path(wet).name
        try:
            page = analyse_upload(estimator, workspace.job_dir(), wet, name=name, dry_path=dry,
                                  your_dry_path=your_dry, refine=bool(refine), refine_seconds=float(refine_seconds),
                                  refiner=refiner, progress=step, max_mb=max_mb, dry_estimator=dry_estimator,
                                  recovery=recovery)
        except Cancelled:
            return empty("Cancelled; nothing was kept.")
        except DdspfxError as exc:
            return empty(error_line(exc))
        status, _, refined = status_line(page, name).partition("\n\n")
        renders = [gr.update(value=str(page.renders[k]) if k in page.renders else None,
                             visible=k in page.renders or k == "builtin_dry") for k in RENDER_LABELS]
        clean = gr.update(value=str(page.clean) if page.clean else None, visible=page.clean is not None)
        return (status, gr.update(visible=True), gr.update(value=refined, visible=bool(refined)),
                chain_html(page.analysis), str(page.plot),
                wet, *renders, clean, json.dumps(page.record, indent=1), page.snippet,
                [str(p) for p in page.downloads])

    def cancel(request: gr.Request) -> str:
        flags.cancel(request.session_hash or "anonymous")
        return "Cancelled."

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                wet_in = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Wet guitar clip",
                                  elem_id="ddspfx-wet")
            with gr.Column(scale=1, min_width=220):
                go = gr.Button("Analyse", variant="primary", size="lg", elem_id="ddspfx-analyse")
                stop = gr.Button("Cancel", variant="stop", size="sm", elem_id="ddspfx-cancel")
                status = gr.Markdown(elem_id="ddspfx-status", min_height=110)
        gr.Examples(examples=[[str(p)] for p in example_paths], inputs=[wet_in], elem_id="ddspfx-examples",
                    example_labels=[ex.label for ex in EXAMPLES],
                    label="Examples: ddspfx's built-in synthetic guitar through known pedals (the label is the "
                          "true chain: does the analysis find it?)")
        with gr.Accordion("Advanced: the clip's own dry, refinement, your own dry guitar", open=False,
                          elem_id="ddspfx-advanced"):
            gr.Markdown(f"{ADVANCED}\n\n{ADVANCED_RECOVERED if recovery is not None else ADVANCED_NO_RECOVERY}",
                        elem_id="ddspfx-advanced-text")
            with gr.Row():
                dry_in = gr.Audio(sources=["upload", "microphone"], type="filepath",
                                  label="The clip's own dry recording", elem_id="ddspfx-dry")
                yours_in = gr.Audio(sources=["upload", "microphone"], type="filepath",
                                    label="Your own dry guitar", elem_id="ddspfx-yours")
            with gr.Row():
                refine_in = gr.Checkbox(label="Refine the chain on the clip's dry, or without it on the clean guitar "
                                              "(slower)" if recovery is not None else
                                        "Refine the chain on the clip's dry (slower)", value=False,
                                        elem_id="ddspfx-refine")
                seconds_in = gr.Slider(5, 120, value=DEFAULT_BUDGET_S, step=5,
                                       label="Refinement time limit (seconds): a longer search tries more chains",
                                       elem_id="ddspfx-refine-seconds")
        # the results appear once there are some (a newcomer's first screen has nothing empty on it)
        with gr.Column(visible=False, elem_id="ddspfx-results") as results:
            refined_out = gr.Markdown(elem_id="ddspfx-refined", visible=False)
            with gr.Row():
                chain = gr.HTML(elem_id="ddspfx-chain")
                plot = gr.Image(type="filepath", label="Spectrograms and the chain", elem_id="ddspfx-plot",
                                interactive=False)
            gr.Markdown(LISTEN + (f"\n\n{LISTEN_CLEAN}" if recovery is not None else ""))
            with gr.Row(elem_classes=["ddspfx-ab"]):
                clip_out = gr.Audio(type="filepath", label="your clip", interactive=False, elem_id="ddspfx-clip",
                                    waveform_options=PLAIN_PLAYER, buttons=["download"])
                render_outs = [gr.Audio(type="filepath", label=label, interactive=False, elem_id=f"ddspfx-{kind}",
                                        waveform_options=PLAIN_PLAYER, buttons=["download"],
                                        visible=kind == "builtin_dry") for kind, label in RENDER_LABELS.items()]
                clean_out = gr.Audio(type="filepath", label=CLEAN_LABEL, interactive=False, elem_id="ddspfx-clean",
                                     waveform_options=PLAIN_PLAYER, buttons=["download"], visible=False)
            files_out = gr.File(file_count="multiple", label="Downloads (named after your clip)", elem_id="ddspfx-files",
                                interactive=False)
            with gr.Accordion("The chain as JSON (what infer --json prints) and as a pedalboard program", open=False,
                              elem_id="ddspfx-code"):
                with gr.Row():
                    json_out = gr.Code(language="json", label="the chain as JSON", elem_id="ddspfx-json",
                                       interactive=False, buttons=["copy"])
                    snippet_out = gr.Code(language="python", label="the chain as a pedalboard.Pedalboard",
                                          elem_id="ddspfx-snippet", interactive=False, buttons=["copy"])
        event = go.click(analyse, inputs=[wet_in, dry_in, yours_in, refine_in, seconds_in],
                         outputs=[status, results, refined_out, chain, plot, clip_out, *render_outs, clean_out,
                                  json_out, snippet_out, files_out],
                         api_name="analyse", concurrency_limit=1, show_progress_on=[status])
        stop.click(cancel, inputs=None, outputs=status, cancels=[event], api_name="cancel", queue=False)
    return demo


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (what ``--port 0`` asks for)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def launch(demo: gr.Blocks, workspace: Workspace, host: str, port: int, max_mb: float = MAX_UPLOAD_MB,
           block: bool = True, quiet: bool = False) -> tuple[Any, str]:
    """Start the server (queue on); returns (FastAPI app, local URL). ``block=False`` returns at once."""
    if port == 0:
        port = free_port(host)
    demo.queue(default_concurrency_limit=1, max_size=32)
    app, url, _ = demo.launch(server_name=host, server_port=port, share=False, prevent_thread_lock=True,
                              allowed_paths=[str(workspace.root)], max_file_size=f"{2 * max_mb:.0f}mb",
                              quiet=True, show_error=True, js=PAGE_JS, footer_links=["api"])
    local = f"http://{host}:{demo.server_port}/"
    if not quiet:
        print(f"ddspfx app: open {local} in your browser (Ctrl-C stops the server and removes {workspace.root})",
              flush=True)
    if block:
        try:
            demo.block_thread()
        finally:
            demo.close()
            workspace.close()
    return app, local


def serve(workspace: Workspace, host: str, port: int, checkpoint: str | None = None,
          dry_checkpoint: str | None = None, max_mb: float | None = None, recovery_model: str | None = None) -> None:
    """``python -m ddspfx.app``: load the models, build the analysis page and serve it until stopped."""
    max_mb = max_mb or MAX_UPLOAD_MB
    estimator = Estimator(checkpoint)
    demo = build_app(estimator, workspace, max_mb=max_mb,
                     dry_estimator=dry_estimator(dry_checkpoint, remedy="pass it as --checkpoint"),
                     recovery=recovery_network(recovery_model))
    launch(demo, workspace, host, port, max_mb=max_mb)
