"""The studies behind README's figures: ablations, read-outs, benchmarks and out-of-distribution checks.

A package, so the scripts import their shared evaluation tooling (``from experiments.evaluation.sets import ...``)
without editing ``sys.path``. Run each one from the repository root as a module, e.g. ``python -m experiments.ablate_data``;
its results go under ``experiments/results/``.
"""
