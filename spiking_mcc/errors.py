"""Exceptions users see. The CLI prints their message on one line and exits 2."""


class SpikingMCCError(ValueError):
    """Base class for every error caused by bad input (parameters, files, data, hardware limits)."""


class ParameterError(SpikingMCCError):
    """A parameter is unknown, has the wrong unit, or is out of its allowed range."""


class DataError(SpikingMCCError):
    """A data file is missing or corrupt, or an array has the wrong shape, range or NaNs."""


class ModelError(SpikingMCCError):
    """A model file or network graph is invalid (unsupported layer, shape mismatch, NaN weights)."""


class HardwareLimitError(SpikingMCCError):
    """A value or network does not fit the target hardware (names layer, limit and value)."""


class SimulatorError(SpikingMCCError):
    """An external simulator (Brian2, Lava) failed or timed out."""


class OutputFolderError(SpikingMCCError):
    """An output folder cannot be used safely: another command holds it, or a file there is not ours."""
