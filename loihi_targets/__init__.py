"""Loihi targets: quantiser, Lava processes and runner, core mapper, event-based energy."""
