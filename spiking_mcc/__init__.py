"""spiking-mcc: spiking two-point cells, MCC networks, conversion, Loihi targets, energy."""

__version__ = "0.1.0"
