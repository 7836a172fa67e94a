"""Lava Processes and ProcessModels of spiking-mcc (a leaf package: imports only lava and numpy).

Lava imports every module in a Process's folder while looking for its ProcessModels, so nothing
heavy or project-specific lives here. Processes: ``SpikeCounter`` and ``WindowAccumulator`` (sinks
that count per readout window), ``LIFResetSubtract`` (Lava's LIFReset with reset by subtraction)
and ``TwoPointLIF`` (a two-compartment soma + apical neuron).
"""
