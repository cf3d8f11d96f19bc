"""The ddspfx model: front end, transformer encoder, pedal-token decoder and continuous heads."""

from ddspfx.model.model import DdspfxModel, Prediction
from ddspfx.model.search import Hypothesis, beam_search, greedy_search

__all__ = ["DdspfxModel", "Prediction", "Hypothesis", "beam_search", "greedy_search"]
