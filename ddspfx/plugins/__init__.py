"""Third-party effect plugins as extra renderers for training data (issue 17).

``ladspa`` hosts LADSPA plugins in-process with ctypes; ``table`` declares, per ddspfx effect type, which
Debian plugins implement it, which controls to draw in which audible ranges, and which controls carry a
catalog parameter's meaning (and so may be labelled); ``render`` runs a chain of them on a dry clip and
draws implementations and controls from the table. ``reserved`` names the judges' packages, which training never
uses and both hosts refuse outside evaluation (their table is ``experiments/judges.py``).
"""
