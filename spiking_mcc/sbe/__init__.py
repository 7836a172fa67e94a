"""Streaming batch eigenupdates (Hoskins et al. 2019): low-rank training for crossbar hardware."""
