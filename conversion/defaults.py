"""The one definition of the conversion defaults, shared by the `convert` CLI and the Python API
(:func:`conversion.thresholds.convert`, :func:`conversion.pipeline.convert_and_evaluate`)."""

from __future__ import annotations

TIMESTEPS = (1, 2, 4, 8, 16, 32)
THRESHOLD = "distribution"     # Datta & Beerel 2022, fitted per T
PERCENTILE = 99.9              # for the percentile / channel methods
GRANULARITY = "channel"        # distribution fit per channel / dense neuron
INIT_MEMBRANE_FRACTION = 0.5   # initial membrane as a fraction of the threshold
ENCODING = "analog"
READOUT = "membrane"
RESET = "subtract"
LEAK = 0.0
