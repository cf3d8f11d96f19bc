"""The analysis page (Gradio Blocks): drop or record a clip, see the pedals, hear the chain, take it away.

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

from ddspfx.app.analysis import MAX_UPLOAD_MB, analyse_upload, chain_html, error_line
from ddspfx.app.jobs import CancelFlags, Cancelled, refine_in_process
from ddspfx.app.workspace import Workspace
from ddspfx.errors import DdspfxError
from ddspfx.estimator import Estimator

TITLE = "ddspfx: which pedals, in which order, with which settings"

INTRO = """# ddspfx
Drop a **wet guitar clip** (any format soundfile reads, any rate or length) or record one, then press
**Analyse**. You get the pedals in signal order with each knob in real units, how sure the model is,
the spectrograms, and the estimated chain re-rendered with pedalboard onto (a) the clip's own dry if you
give it, (b) your own dry guitar, and (c) a built-in dry guitar phrase."""

PLAIN_PLAYER = gr.WaveformOptions(show_recording_waveform=False)
"""The browser's own <audio> player (Gradio's waveform player hides its media element, which A/B needs)."""

# A/B switching at the same playback position: when one player in a .ddspfx-ab row starts, the one that
# played last pauses and the new one jumps to where it was.
AB_SYNC_JS = """
() => {
  let last = null;
  document.addEventListener('play', (ev) => {
    const el = ev.target;
    if (!(el instanceof HTMLMediaElement) || !el.closest('.ddspfx-ab')) return;
    if (last && last !== el) {
      if (!last.paused) last.pause();
      if (Number.isFinite(last.currentTime) && last.currentTime < el.duration) el.currentTime = last.currentTime;
    }
    last = el;
  }, true);
}
"""

RENDER_LABELS = {
    "clip_dry": "(a) the estimated chain on the clip's own dry",
    "your_dry": "(b) the estimated chain on your dry guitar",
    "builtin_dry": "(c) the estimated chain on a built-in dry guitar phrase",
}


def build_app(estimator: Estimator, workspace: Workspace, max_mb: float = MAX_UPLOAD_MB,
              dry_estimator: Estimator | None = None) -> gr.Blocks:
    """The analysis page as ``gradio.Blocks`` (launch it with :func:`launch`); ``dry_estimator`` answers clips
    uploaded with their own dry (``ddspfx.infer.dry_estimator``), ``estimator`` the others."""
    flags = CancelFlags()

    def analyse(wet: str | None, dry: str | None, your_dry: str | None, refine: bool, refine_steps: float,
                request: gr.Request, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        empty = (None,) * 9
        if not wet:
            return ("Drop or record a wet guitar clip first.", *empty)
        session = request.session_hash or "anonymous"
        cancel = flags.reset(session)

        def step(fraction: float, desc: str) -> None:
            progress(fraction, desc=desc)

        def refiner(wet: Any, dry: Any, analysis: Any, sample_rate: int, steps: int, on_progress: Any) -> Any:
            return refine_in_process(wet, dry, analysis, sample_rate, steps, on_progress, cancel=cancel)

        try:
            page = analyse_upload(estimator, workspace.job_dir(), wet, name=Path(wet).name, dry_path=dry,
                                  your_dry_path=your_dry, refine=bool(refine), refine_steps=int(refine_steps),
                                  refiner=refiner, progress=step, max_mb=max_mb, dry_estimator=dry_estimator)
        except Cancelled:
            return ("Cancelled; nothing was kept.", *empty)
        except DdspfxError as exc:
            return (error_line(exc), *empty)
        renders = [str(page.renders[k]) if k in page.renders else None for k in RENDER_LABELS]
        status = f"Analysed **{Path(wet).name}** in {page.seconds:.1f} s."
        if "refine" in page.record:
            status += f" Refine: {page.record['refine']}."
        return (status, chain_html(page.analysis), str(page.plot), wet, *renders,
                json.dumps(page.record, indent=1), page.snippet, [str(p) for p in page.downloads])

    def cancel(request: gr.Request) -> str:
        flags.cancel(request.session_hash or "anonymous")
        return "Cancelled."

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=1):
                wet_in = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Wet guitar clip",
                                  elem_id="ddspfx-wet")
                dry_in = gr.Audio(sources=["upload", "microphone"], type="filepath",
                                  label="The clip's own dry recording (optional: re-render (a) and refine)",
                                  elem_id="ddspfx-dry")
                with gr.Row():
                    refine_in = gr.Checkbox(label="Refine with the dry (analysis by synthesis; slower)",
                                            value=False, elem_id="ddspfx-refine")
                    steps_in = gr.Slider(0, 300, value=150, step=10, label="Refine steps", elem_id="ddspfx-steps")
                yours_in = gr.Audio(sources=["upload", "microphone"], type="filepath",
                                    label="Your own dry guitar (optional: re-render (b))", elem_id="ddspfx-yours")
                with gr.Row():
                    go = gr.Button("Analyse", variant="primary", elem_id="ddspfx-analyse")
                    stop = gr.Button("Cancel", variant="stop", elem_id="ddspfx-cancel")
            with gr.Column(scale=2):
                status = gr.Markdown(elem_id="ddspfx-status")
                chain = gr.HTML(elem_id="ddspfx-chain")
                plot = gr.Image(type="filepath", label="Spectrograms and the chain", elem_id="ddspfx-plot",
                                interactive=False)
        gr.Markdown("## Listen (A/B: starting one player continues from where the last one was)")
        with gr.Row(elem_classes=["ddspfx-ab"]):
            clip_out = gr.Audio(type="filepath", label="the clip", interactive=False, elem_id="ddspfx-clip",
                                waveform_options=PLAIN_PLAYER)
            render_outs = [gr.Audio(type="filepath", label=label, interactive=False, elem_id=f"ddspfx-{kind}",
                                    waveform_options=PLAIN_PLAYER) for kind, label in RENDER_LABELS.items()]
        gr.Markdown("## Take it away")
        with gr.Row():
            json_out = gr.Code(language="json", label="the chain as JSON (what infer --json prints)",
                               elem_id="ddspfx-json", interactive=False)
            snippet_out = gr.Code(language="python", label="the chain as a pedalboard.Pedalboard",
                                  elem_id="ddspfx-snippet", interactive=False)
        files_out = gr.File(file_count="multiple", label="downloads", elem_id="ddspfx-files", interactive=False)
        event = go.click(analyse, inputs=[wet_in, dry_in, yours_in, refine_in, steps_in],
                         outputs=[status, chain, plot, clip_out, *render_outs, json_out, snippet_out, files_out],
                         api_name="analyse", concurrency_limit=1)
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
                              quiet=True, show_error=True, js=AB_SYNC_JS, footer_links=["api"])
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
