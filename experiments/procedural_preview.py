"""Listen to and look at the procedural guitars (``ddspfx.sources.procedural``) beside the existing dry sources.

Writes to ``--out`` (default ``experiments/results/procedural_preview``):

- ``guitar<ID>_phrase<S>.flac``: four training guitars playing the same phrase, one guitar strumming, palm-muting
  and playing a lead line, one held-out guitar;
- ``long_term_spectra.png``: the long-term spectrum (``ddspfx.audibility``'s 48 log bands, RMS-matched, averaged
  over frames and clips, relative to its mean over bands) of 16 virtual guitars, each over the same phrases,
  against ``synth``, ``modal`` and ``sf2:timgm6mb``; and the distances between long-term spectra of one guitar
  over different phrases against those of different guitars over the same phrase;
- ``summary.md``: the distances, the render speed (3-s clips on one core), and how audible a recording's character
  (``ddspfx.recording``) is next to the least audible labelled eq and reverb on the same clips;
- ``guitar0_phrase<S>_rec<K>.flac``: the first guitar's phrase through a few drawn recordings.

::

    python -m experiments.procedural_preview [--clips 8] [--bench 100] [--recording-clips 32]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ddspfx.audibility import band_energies_db, change_score
from ddspfx.audio import save_audio
from ddspfx.catalog import SAMPLE_RATE
from ddspfx.errors import cli_entry
from ddspfx.fileio import atomic_path
from ddspfx.recording import (
    apply_recording,
    band_sos,
    colour_sos,
    draw_recording,
    labelled_floor_scores,
    reflective_room_ir,
)
from ddspfx.sources import make_source
from ddspfx.sources.procedural import HELDOUT_IDS, TRAIN_IDS, ProceduralSource, draw_guitar

REFERENCES: tuple[str, ...] = ("synth", "modal", "sf2:timgm6mb")
FFT = 4096


def long_term_spectrum(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(48,) mean log band energy (dB) of the RMS-matched clip, relative to its mean over bands."""
    x = np.asarray(x, np.float64)
    x = x / max(float(np.sqrt(np.mean(x**2))), 1e-12)
    e = band_energies_db(x.astype(np.float32), sample_rate, FFT)  # (frames, 48)
    loud = e.max(axis=1) > e.max() - 40.0  # frames with notes, not the onset's silence
    lts = 10.0 * np.log10(np.mean(10.0 ** (e[loud] / 10.0), axis=0))
    return lts - lts.mean()


def guitar_spectra(ids: Sequence[int], clips: int, seconds: float, seed: int) -> np.ndarray:
    """(guitars, clips, 48): guitar g playing phrase c (phrase seed ``seed + c``, the same for every guitar)."""
    src = ProceduralSource()
    return np.array([[long_term_spectrum(src.play(g, np.random.default_rng(seed + c), seconds)) for c in range(clips)]
                     for g in ids])


TIMBRE_HZ = 400.0
"""Bands from here up make the timbre distance: below it the fundamentals of the notes played dominate the spectrum."""


def above(spectra: np.ndarray, hz: float = TIMBRE_HZ) -> np.ndarray:
    """The bands centred at or above ``hz``, re-centred on their mean (last axis)."""
    edges = np.geomspace(60.0, 16_000.0, spectra.shape[-1] + 1)
    s = spectra[..., np.sqrt(edges[:-1] * edges[1:]) >= hz]
    return s - s.mean(axis=-1, keepdims=True)


def distances(spectra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(same guitar, other phrase; other guitar, same phrase) mean absolute dB differences of long-term spectra
    ``(guitars, clips, bands)``."""
    g, c, _ = spectra.shape
    within = [np.mean(np.abs(spectra[i, a] - spectra[i, b])) for i in range(g) for a in range(c) for b in range(a + 1, c)]
    across = [np.mean(np.abs(spectra[i, a] - spectra[j, a])) for a in range(c) for i in range(g) for j in range(i + 1, g)]
    return np.array(within), np.array(across)


def bench(n: int, seconds: float, seed: int) -> tuple[float, float]:
    """(clips per CPU second, clips per wall second) of ``procedural`` clips, after a warm-up."""
    src = make_source("procedural")
    rng = np.random.default_rng(seed)
    src.sample(rng, seconds)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        src.sample(rng, seconds)
    return n / (time.process_time() - cpu), n / (time.perf_counter() - wall)


def write_wavs(out: Path, seconds: float, seed: int) -> list[str]:
    src = ProceduralSource()
    names = []

    def put(name: str, x: np.ndarray) -> None:
        save_audio(out / name, x, SAMPLE_RATE)
        names.append(name)

    for gid in range(4):
        put(f"guitar{gid}_phrase{seed}.flac", src.play(gid, np.random.default_rng(seed), seconds))
    phrase = src.play(0, np.random.default_rng(seed), seconds)
    rng = np.random.default_rng(seed + 3000)
    for k in range(2):
        rec = draw_recording(rng)
        while rec.kind != "cab":
            rec = draw_recording(rng)
        put(f"guitar0_phrase{seed}_rec{k}.flac", apply_recording(phrase, SAMPLE_RATE, rec))
    for i, kind in enumerate(("strum", "palm_mute", "lead")):
        one = ProceduralSource(kind=kind)
        put(f"guitar0_{kind}.flac", one.play(0, np.random.default_rng(seed + 100 + i), seconds))
    put(f"guitar{HELDOUT_IDS[0]}_phrase{seed}_heldout.flac", src.play(HELDOUT_IDS[0], np.random.default_rng(seed), seconds))
    return names


def recording_table(n_clips: int, seed: int, per_clip: int = 4) -> list[str]:
    """Markdown rows: ddspfx.audibility scores of a drawn recording's parts on clips of the four sources, and their
    ratio to the least audible labelled eq / reverb on the same clip (``labelled_floor_scores``)."""
    from scipy.signal import fftconvolve, sosfilt

    sources = ("procedural", *REFERENCES)
    clips = [make_source(sources[i % len(sources)]).sample(np.random.default_rng(seed + 1000 + i), 2.0)
             for i in range(n_clips)]
    floors = [labelled_floor_scores(x, SAMPLE_RATE) for x in clips]
    rng = np.random.default_rng(seed + 2000)
    rows: dict[str, list[tuple[float, float]]] = {"colour": [], "room": [], "band limits": [], "all (cabinet)": []}
    for i, x in enumerate(clips):
        for _ in range(per_clip):
            rec = draw_recording(rng)
            while rec.kind != "cab":
                rec = draw_recording(rng)
            eq_floor, reverb_floor = floors[i]
            rows["colour"].append((change_score(x, sosfilt(colour_sos(rec, SAMPLE_RATE), x), SAMPLE_RATE), eq_floor))
            if rec.reflections:
                wet = fftconvolve(x, reflective_room_ir(rec, SAMPLE_RATE))[: x.size]
                rows["room"].append((change_score(x, wet, SAMPLE_RATE), reverb_floor))
            rows["band limits"].append((change_score(x, sosfilt(band_sos(rec, SAMPLE_RATE), x), SAMPLE_RATE), eq_floor))
            rows["all (cabinet)"].append((change_score(x, apply_recording(x, SAMPLE_RATE, rec), SAMPLE_RATE), eq_floor))
    eq_f, rev_f = np.array([f[0] for f in floors]), np.array([f[1] for f in floors])
    out = [f"Floors on these {n_clips} clips ({', '.join(sources)}, 2 s): least audible labelled eq median"
           f" {np.median(eq_f):.2f} dB (range {eq_f.min():.2f}-{eq_f.max():.2f}); least audible labelled reverb median"
           f" {np.median(rev_f):.2f} dB (range {rev_f.min():.2f}-{rev_f.max():.2f}).", "",
           "| part of the recording | pairs | score median | p90 | max | ratio to the floor on the clip: median | max |",
           "|---|---|---|---|---|---|---|"]
    for name, pairs in rows.items():
        sc = np.array([p[0] for p in pairs])
        ratio = sc / np.array([p[1] for p in pairs])
        floor = "reverb" if name == "room" else "eq"
        out.append(f"| {name} (vs the {floor} floor) | {sc.size} | {np.median(sc):.2f} | {np.percentile(sc, 90):.2f} |"
                   f" {sc.max():.2f} | {np.median(ratio):.2f} | {ratio.max():.2f} |")
    return out


def plot(path: Path, ids: Sequence[int], spectra: np.ndarray, refs: dict[str, np.ndarray],
         within: np.ndarray, across: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges = np.geomspace(60.0, 16_000.0, 49)
    centres = np.sqrt(edges[:-1] * edges[1:])
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(15, 5.5), gridspec_kw={"width_ratios": [2.2, 1]})
    colours = plt.get_cmap("tab20")(np.linspace(0, 1, len(ids)))
    for g, c in zip(range(len(ids)), colours):
        guitar = draw_guitar(ids[g])
        ax.semilogx(centres, spectra[g].mean(axis=0), color=c, lw=1.0, label=f"{ids[g]} {guitar.body}/{guitar.output}")
    for (name, s), style in zip(refs.items(), ("-", "--", ":")):
        ax.semilogx(centres, s.mean(axis=0), color="k", lw=2.5, ls=style, label=name)
    ax.set_xlabel("Hz")
    ax.set_ylabel("dB (relative to the mean over bands)")
    ax.set_title(f"long-term spectra: {len(ids)} virtual guitars (same {spectra.shape[1]} phrases) vs existing sources")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6.5, ncol=2)
    bins = np.linspace(0, max(within.max(), across.max()) * 1.05, 40)
    bx.hist(within, bins=bins, alpha=0.6, density=True, label=f"same guitar, other phrase (median {np.median(within):.1f})")
    bx.hist(across, bins=bins, alpha=0.6, density=True, label=f"other guitar, same phrase (median {np.median(across):.1f})")
    bx.set_xlabel(f"mean |difference| of long-term spectra above {TIMBRE_HZ:g} Hz (dB)")
    bx.set_title("timbre distance between clips")
    bx.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


@cli_entry
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.procedural_preview", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("experiments/results/procedural_preview"))
    parser.add_argument("--guitars", type=int, default=16)
    parser.add_argument("--clips", type=int, default=8, help="phrases per guitar and per reference source")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bench", type=int, default=100, help="clips to time (0: skip)")
    parser.add_argument("--recording-clips", type=int, default=32, help="clips for the recording's audibility (0: skip)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    ids = list(TRAIN_IDS[: args.guitars])
    spectra = guitar_spectra(ids, args.clips, args.seconds, args.seed)
    refs = {}
    for spec in REFERENCES:
        src = make_source(spec)
        refs[spec] = np.array([long_term_spectrum(src.sample(np.random.default_rng(args.seed + c), args.seconds))
                               for c in range(args.clips)])
    within, across = distances(spectra)
    t_within, t_across = distances(above(spectra))
    ref_within = np.concatenate([distances(r[None])[0] for r in refs.values()])
    ref_across = distances(np.stack(list(refs.values())))[1]
    names = write_wavs(args.out, args.seconds, args.seed)
    plot(args.out / "long_term_spectra.png", ids, spectra, refs, t_within, t_across)
    lines = [
        "# Procedural guitars: a preview",
        "",
        f"`python -m experiments.procedural_preview --guitars {args.guitars} --clips {args.clips} --seconds {args.seconds:g}"
        f" --seed {args.seed} --bench {args.bench} --recording-clips {args.recording_clips}`",
        "",
        "Long-term spectra (`ddspfx.audibility` bands, RMS-matched, relative to the mean over bands), mean absolute"
        " difference in dB:",
        "",
        f"| pairs | n | median, all bands | median, bands >= {TIMBRE_HZ:g} Hz (timbre) |",
        "|---|---|---|---|",
        f"| same virtual guitar, different phrases | {within.size} | {np.median(within):.2f} | {np.median(t_within):.2f} |",
        f"| different virtual guitars, same phrase | {across.size} | {np.median(across):.2f} | {np.median(t_across):.2f} |",
        f"| one existing source ({', '.join(REFERENCES)}), different phrases | {ref_within.size} |"
        f" {np.median(ref_within):.2f} | {np.median(distances(above(np.stack(list(refs.values()))))[0]):.2f} |",
        f"| two different existing sources | {ref_across.size} | {np.median(ref_across):.2f} |"
        f" {np.median(distances(above(np.stack(list(refs.values()))))[1]):.2f} |",
        "",
        "Guitars: " + "; ".join(f"{g}: {draw_guitar(g).body}/{draw_guitar(g).output}" for g in ids),
        "",
        "Audio: " + ", ".join(f"`{n}`" for n in names),
    ]
    if args.recording_clips > 0:
        lines += ["", "## A recording's character (`ddspfx.recording`) beside the least audible labelled pedals", "",
                  "`ddspfx.audibility.change_score` of each part alone on the clip (4 cabinet recordings per clip);"
                  " the floor is `ddspfx.recording.labelled_floor_scores` on the same clip. The band limits and the"
                  " whole recording are not meant to stay below the eq floor: a cabinet's roll-off is loud but no"
                  " peaking filter has its shape.", ""]
        lines += recording_table(args.recording_clips, args.seed)
    if args.bench > 0:
        per_cpu, per_wall = bench(args.bench, args.seconds, args.seed + 1)
        lines += ["", f"Speed ({args.bench} clips of {args.seconds:g} s, `procedural`, one process, one thread):"
                  f" {per_cpu:.0f} clips per CPU second, {per_wall:.0f} per wall-clock second (on a shared machine)."]
    text = "\n".join(lines) + "\n"
    with atomic_path(args.out / "summary.md") as tmp:
        Path(tmp).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
