"""A MUSHRA listening test (ITU-R BS.1534-3) of ddspfx's estimates, with its ratings in SQLite.

Each trial plays the wet clip as the open **reference** and, under the letters A-D in an order drawn
anew for each listener and trial, four conditions rated on 0-100 sliders:

- ``reference``: the hidden reference (the wet clip itself; a listener who hears it rates it 100);
- ``estimate``:  the model's estimated chain re-rendered with pedalboard on the clip's dry;
- ``refined``:   the chain after ``ddspfx.refine`` (analysis by synthesis with the dry), re-rendered;
- ``anchor``:    BS.1534's low anchor, the reference low-passed at 3.5 kHz (or ``--anchor random``: a
  random chain on the dry, what a wrong answer sounds like).

Conditions are loudness-aligned to the reference (RMS, peak <= 0.99), as BS.1534 asks, so level is not
the cue. Trials come from a ``python -m ddspfx.data make`` folder (``labels.jsonl``, ``dry/``, ``wet/``)
or from ``wet/`` and ``dry/`` folders of same-named files; clips with no pedal are left out unless asked
for (their reference, estimate and refined stimuli would all be the dry). Stimuli are rendered once into
a folder beside the database and reused after a restart.

The test is blind: the page never serves a stimulus under a name that says its condition. Each player
gets a fresh copy under a random name (:func:`blind_copy`), new for every trial shown, so neither the
URL, nor the file name, nor two players' URLs being equal (the open and the hidden reference) tell
anything; and a trial is saved only once each of its stimuli has been played (:func:`unplayed`).

The store commits each trial's four ratings in one transaction (WAL journal, ``synchronous=FULL``), so
a killed server loses at most the trial being rated, never a part of one; each listener's trial order
and letter order are stored on their first visit, so a restart resumes where they were.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import secrets
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfiltfilt

from ddspfx.analysis import Analysis
from ddspfx.app.analysis import read_clip, render_onto
from ddspfx.audio import find_audio_files, normalise_loudness, rms_dbfs, save_audio
from ddspfx.config import DEFAULT_BUDGET_S
from ddspfx.data.layout import read_labels
from ddspfx.errors import DdspfxError
from ddspfx.fileio import atomic_path, atomic_write_text
from ddspfx.refine import refine
from ddspfx.sampler import ChainSampler, SamplerConfig

CONDITIONS: tuple[str, ...] = ("reference", "estimate", "refined", "anchor")
"""What each trial compares (the hidden reference first; the page shuffles them)."""

ANCHOR_CUTOFF_HZ = 3500.0
"""BS.1534-3's low anchor: the reference low-passed at 3.5 kHz."""

LISTENER_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
"""What a listener id may be: 1-64 letters, digits or _ . @ -."""


@dataclass(frozen=True)
class Trial:
    """One (wet, dry) pair; ``chain`` is the true chain when the folder's labels give it."""

    id: str
    wet: Path
    dry: Path
    chain: list[dict[str, Any]] | None = None


SAME_SOUND_TOLERANCE = 1e-3
"""A wet file whose samples are its dry's times a gain, to this relative RMS residual, had no pedal on it."""


def sounds_dry(wet: Path, dry: Path) -> bool:
    """True when ``wet`` is ``dry`` up to a gain (a clip with no pedal), read sample for sample."""
    x, _ = sf.read(str(wet), dtype="float64", always_2d=True)
    y, _ = sf.read(str(dry), dtype="float64", always_2d=True)
    x, y = x.mean(axis=1), y.mean(axis=1)
    if x.shape != y.shape or not np.any(y):
        return False
    gain = float(x @ y / (y @ y))
    return bool(np.sqrt(np.mean((x - gain * y) ** 2)) <= SAME_SOUND_TOLERANCE * max(np.sqrt(np.mean(x ** 2)), 1e-12))


def load_trials(folder: str | Path, max_trials: int | None = None, include_dry: bool = False) -> list[Trial]:
    """The trials of a ``ddspfx.data make`` folder (by id) or of ``wet/`` + ``dry/`` same-named files.

    Clips with no pedal (labelled with an empty chain, or, unlabelled, a wet that :func:`sounds_dry`) are left out
    unless ``include_dry``: their reference, estimate and refined stimuli would be the same sound.
    """
    root = Path(folder)
    trials: list[Trial] = []
    left_out = 0
    labels = read_labels(root)
    if labels:
        for rec in sorted(labels, key=lambda r: int(r["id"])):
            if max_trials and len(trials) >= max_trials:
                break
            if not include_dry and rec.get("chain") == []:
                left_out += 1
                continue
            trials.append(Trial(f"{int(rec['id']):06d}", root / rec["wet"], root / rec["dry"], rec.get("chain")))
    elif (root / "wet").is_dir() and (root / "dry").is_dir():
        dry = {p.relative_to(root / "dry").with_suffix("").as_posix(): p for p in find_audio_files(root / "dry")}
        for wet in find_audio_files(root / "wet"):
            if max_trials and len(trials) >= max_trials:
                break
            key = wet.relative_to(root / "wet").with_suffix("").as_posix()
            if key in dry:
                if not include_dry and sounds_dry(wet, dry[key]):
                    left_out += 1
                    continue
                trials.append(Trial(key.replace("/", "_"), wet, dry[key]))
    if not trials:
        why = (f" ({left_out} clip(s) with no pedal left out: add --include-dry to rate them)" if left_out else "")
        raise DdspfxError(f"{root} holds no trials{why}: give a folder made by `python -m ddspfx.data make --out DIR`, "
                          "or one with wet/ and dry/ folders of same-named audio files")
    return trials


def blind_copy(stimulus: Path, folder: Path) -> Path:
    """A copy of ``stimulus`` to serve to a listener: ``folder/<random>/<random>.wav``, names drawn from the OS's
    secure random source, so nothing in the URL says which condition it is (nor matches another player's URL)."""
    target = Path(folder) / secrets.token_hex(16) / f"{secrets.token_hex(8)}{stimulus.suffix}"
    target.parent.mkdir(parents=True)
    shutil.copyfile(stimulus, target)
    return target


def unplayed(served: Sequence[tuple[str, str]], played: Sequence[str]) -> list[str]:
    """The labels of ``served`` (label, file name) whose file no URL in ``played`` (the page's play events) fetched."""
    return [label for label, name in served if not any(url.rsplit("/", 1)[-1].split("?")[0] == name for url in played)]


def lowpass_anchor(x: np.ndarray, sample_rate: int, cutoff_hz: float = ANCHOR_CUTOFF_HZ) -> np.ndarray:
    """BS.1534's anchor: ``x`` low-passed at ``cutoff_hz`` (zero-phase 8th-order Butterworth, 48 dB/octave)."""
    sos = butter(4, cutoff_hz, btype="low", fs=sample_rate, output="sos")
    return sosfiltfilt(sos, np.asarray(x, np.float64)).astype(np.float32)


def match_loudness(x: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``x`` at the reference's RMS level (peak limited to 0.99)."""
    return normalise_loudness(x, target_dbfs=rms_dbfs(reference))[0]


@dataclass
class ListeningTest:
    """The trials, where their stimuli live, and the ratings store."""

    trials: list[Trial]
    stimuli_dir: Path
    store: "RatingStore"
    anchor: str = "lowpass"

    @classmethod
    def open(cls, folder: str | Path, db: str | Path, max_trials: int | None = None,
             anchor: str = "lowpass", include_dry: bool = False) -> "ListeningTest":
        if anchor not in ("lowpass", "random"):
            raise DdspfxError(f"--anchor must be lowpass or random, got {anchor!r}")
        db = Path(db)
        return cls(load_trials(folder, max_trials, include_dry), db.with_suffix(".stimuli"), RatingStore(db), anchor)

    def stimulus(self, trial_id: str, condition: str) -> Path:
        return self.stimuli_dir / trial_id / f"{condition}.wav"

    def prepare(self, estimator: Any, refine_steps: int = 150, model: str = "shipped",
                log: IO[str] | None = None) -> None:
        """Render every trial's conditions once (skipping trials already rendered with these settings)."""
        sr = estimator.sample_rate
        settings = {"refine_steps": int(refine_steps), "refine_budget_s": DEFAULT_BUDGET_S, "anchor": self.anchor,
                    "sample_rate": sr, "model": model}  # stimuli made under other settings are made again
        for n, trial in enumerate(self.trials, start=1):
            manifest = self.stimuli_dir / trial.id / "stimuli.json"
            if manifest.is_file() and json.loads(manifest.read_text()).get("settings") == settings:
                continue
            wet = read_clip(trial.wet, sr, name=str(trial.wet))
            dry = read_clip(trial.dry, sr, name=str(trial.dry))
            analysis = estimator.analyse_many([wet])[0]
            refined: Analysis = refine(wet, dry, analysis, sr, steps=refine_steps).analysis  # type: ignore[assignment]
            if self.anchor == "lowpass":
                anchor, anchor_chain = lowpass_anchor(wet, sr), None
            else:
                rng = np.random.default_rng(int.from_bytes(trial.id.encode()[-8:], "little"))
                random_chain = ChainSampler(SamplerConfig(min_effects=2, max_effects=4)).sample(rng)
                anchor, anchor_chain = render_onto(dry, random_chain, sr), random_chain.to_list()
            audio = {"reference": wet, "estimate": render_onto(dry, analysis.chain, sr),
                     "refined": render_onto(dry, refined.chain, sr), "anchor": anchor}
            for condition, x in audio.items():
                save_audio(self.stimulus(trial.id, condition),
                           x if condition == "reference" else match_loudness(x, wet), sr)
            atomic_write_text(manifest, json.dumps({
                "settings": settings, "true_chain": trial.chain, "estimate": analysis.chain.to_list(),
                "refined": refined.chain.to_list(), "anchor_chain": anchor_chain}, indent=1) + "\n")
            if log is not None:
                print(f"  trial {n}/{len(self.trials)} ({trial.id}): estimate {analysis.chain.effects}, "
                      f"refined {refined.chain.effects}", file=log, flush=True)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


SCHEMA = """
CREATE TABLE IF NOT EXISTS listeners (
    listener TEXT PRIMARY KEY,
    created  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS plan (          -- each listener's trial order and letter order, drawn once
    listener   TEXT NOT NULL REFERENCES listeners(listener),
    position   INTEGER NOT NULL,           -- 0 = the first trial this listener hears
    trial      TEXT NOT NULL,
    conditions TEXT NOT NULL,              -- JSON list: the condition behind letter A, B, C, D
    PRIMARY KEY (listener, position)
);
CREATE TABLE IF NOT EXISTS ratings (
    listener  TEXT NOT NULL REFERENCES listeners(listener),
    trial     TEXT NOT NULL,
    position  INTEGER NOT NULL,
    condition TEXT NOT NULL,
    letter    TEXT NOT NULL,
    score     INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
    rated_at  TEXT NOT NULL,
    PRIMARY KEY (listener, trial, condition)
);
"""

RATING_COLUMNS = ("listener", "trial", "position", "condition", "letter", "score", "rated_at")


class RatingStore:
    """The listening test's SQLite database; every write is one transaction. Safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a commit is on disk before the page says "saved"
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._transaction() as db:
            for statement in SCHEMA.split(";"):  # (executescript would commit on its own)
                if statement.strip():
                    db.execute(statement)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def plan(self, listener: str, trials: Sequence[str], rng: np.random.Generator | None = None
             ) -> list[tuple[str, list[str]]]:
        """(trial, conditions behind A-D) in this listener's order; drawn and stored on the first call."""
        if not LISTENER_ID.match(listener):
            raise DdspfxError(f"listener id {listener!r} must be 1-64 letters, digits or _ . @ -")
        with self._transaction() as db:
            rows = db.execute("SELECT trial, conditions FROM plan WHERE listener = ? ORDER BY position",
                              (listener,)).fetchall()
            if not rows:
                rng = rng or np.random.default_rng()
                db.execute("INSERT INTO listeners VALUES (?, ?)", (listener, _now()))
                rows = []
                for position, t in enumerate(rng.permutation(len(trials))):
                    conditions = [CONDITIONS[i] for i in rng.permutation(len(CONDITIONS))]
                    rows.append((trials[int(t)], json.dumps(conditions)))
                    db.execute("INSERT INTO plan VALUES (?, ?, ?, ?)", (listener, position, *rows[-1]))
        return [(trial, json.loads(conds)) for trial, conds in rows]

    def next_position(self, listener: str) -> int:
        """The first position of the listener's plan with no ratings (= len(plan) when finished)."""
        with self._lock:
            rated = {r[0] for r in self._db.execute("SELECT DISTINCT position FROM ratings WHERE listener = ?",
                                                    (listener,))}
            total = self._db.execute("SELECT COUNT(*) FROM plan WHERE listener = ?", (listener,)).fetchone()[0]
        return next((p for p in range(total) if p not in rated), total)

    def save(self, listener: str, position: int, scores: Sequence[float]) -> None:
        """The letters' scores (A, B, C, D order) of one trial, as one transaction."""
        with self._transaction() as db:
            row = db.execute("SELECT trial, conditions FROM plan WHERE listener = ? AND position = ?",
                             (listener, position)).fetchone()
            if row is None:
                raise DdspfxError(f"listener {listener!r} has no trial at position {position}")
            trial, conditions = row[0], json.loads(row[1])
            if len(scores) != len(conditions):
                raise DdspfxError(f"give {len(conditions)} scores, got {len(scores)}")
            stamp = _now()
            for i, (condition, score) in enumerate(zip(conditions, scores)):
                if not 0 <= float(score) <= 100:
                    raise DdspfxError(f"scores are 0..100, got {score}")
                db.execute("INSERT OR REPLACE INTO ratings VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (listener, trial, position, condition, "ABCD"[i], int(round(float(score))), stamp))

    def ratings(self) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._db.execute(f"SELECT {', '.join(RATING_COLUMNS)} FROM ratings ORDER BY listener, position, letter")
            return [dict(zip(RATING_COLUMNS, r)) for r in cur.fetchall()]

    def export_csv(self, path: str | Path) -> Path:
        """All ratings, one row each (written atomically)."""
        return write_ratings_csv(self.ratings(), path)


def write_ratings_csv(rows: Sequence[dict[str, Any]], path: str | Path, extra: Sequence[str] = ()) -> Path:
    """Ratings as CSV (``RATING_COLUMNS`` then ``extra``), written atomically."""
    path = Path(path)
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*RATING_COLUMNS, *extra])
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_ratings(db: str | Path) -> list[dict[str, Any]]:
    """The ratings of a database, opened read-only (the report never changes it)."""
    uri = f"file:{Path(db).resolve()}?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True)
        try:
            cur = con.execute(f"SELECT {', '.join(RATING_COLUMNS)} FROM ratings ORDER BY listener, position, letter")
            return [dict(zip(RATING_COLUMNS, r)) for r in cur.fetchall()]
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise DdspfxError(f"{db} is not a listening-test database ({exc})") from None
