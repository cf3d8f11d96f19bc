"""Neighbouring floats, for tests at bin edges."""

from __future__ import annotations

import math
import sys


def float_below(x: float) -> float:
    """The largest float below ``x`` that compares below it: the next float down, or (where denormals are
    flushed to zero by a library that set the CPU's FTZ/DAZ flags) the largest normal float below 0."""
    y = math.nextafter(x, -math.inf)
    return y if y < x else x - sys.float_info.min


def float_above(x: float) -> float:
    """The smallest float above ``x`` that compares above it (see :func:`float_below`)."""
    y = math.nextafter(x, math.inf)
    return y if y > x else x + sys.float_info.min
