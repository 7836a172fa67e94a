"""Rate-based two-point (context-sensitive) units: transfer laws A(R, C) and their derivatives
(`spiking_mcc.twopoint.transfer`)."""
