"""Synthetic county with ground truth: a true population, its census, and an independent PES.

``generate(SynthConfig(persons=..., seed=...), out)`` writes the loadable files (areas,
enumerators, census and PES households/persons, census deaths), the ground truth and a
manifest; see docs/synthetic-data.md for the layout and every rate.
"""

from .config import PES_DEFAULTS, CaptureRates, SynthConfig
from .pipeline import generate

__all__ = ["PES_DEFAULTS", "CaptureRates", "SynthConfig", "generate"]
