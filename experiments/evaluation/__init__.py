"""The studies' evaluation home: held-out test sets, who renders them, and the ablation harness.

Every study scores on sets made here and trains its variants through the harness here, so no study imports
another study for its tooling.

- ``experiments.evaluation.renderers``: which implementations render a test set's pedals (pedalboard, the
  installed third-party plugins, the judges' plugins of ``experiments/judges.py``, ddspfx's variant designs),
  the ``--plugins-from`` names, and whether a model trained on an implementation.
- ``experiments.evaluation.sets``: test sets (dry source x renderer x seeds from ``TEST_SEED_BASE``) and the
  same clips played at a recording's level.
- ``experiments.evaluation.ablation``: train named variants, score them on one held-out set, write the table;
  the read-out scripts' shared options and table writer.

Why here and not in the package: making these sets needs study-only data the package never reads (the judges'
table, ``experiments/judges.py``; the recorded guitars, ``experiments/real_guitar.py``), and the harness is a
research grid (STYLE: studies stay in experiments/). Why the scoring is not here: scoring a chain against its
label -- ``ddspfx.scoring`` (``LabelledClip``, ``Scorer``, the baselines, the tables, ``make_examples``, the synthetic
held-out set) -- is library API that the package's own ``python -m ddspfx.evaluate`` runs, and the package never
imports experiments/. So a study imports its scores from ``ddspfx.scoring`` and everything else of evaluation
from this package; neither re-exports the other.

This module holds no code: import from the modules above.
"""
