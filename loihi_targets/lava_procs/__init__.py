"""Lava Processes and ProcessModels of spiking-mcc (a leaf package: imports only lava, numpy and the
light numpy definition of the two-point unit, ``conversion.twopoint_unit``).

Lava imports every module in a Process's folder while looking for its ProcessModels, so nothing
heavy or project-specific lives here. Processes: ``SpikeCounter`` and ``WindowAccumulator`` (sinks
that count per readout window), ``LIFResetSubtract`` (Lava's LIFReset with reset by subtraction)
and ``TwoPointUnit`` (the two-compartment unit of converted MCC networks, docs/twopoint_unit.md).
"""
