"""Resilience to sudden neural damage: silence a random fraction of hidden units (docs/mcc.md).

- At test time: a trained network loses `fraction` of the units of every hidden layer and stream
  (output and context signal set to 0); accuracy drop, mean over `repeats` random draws.
- Mid-training: the same silencing at the start of epoch `epochs // 2`; the accuracy just before,
  just after, and at the end of training (recovery = end - just after).
"""

from __future__ import annotations

import numpy as np

from spiking_mcc.mcc.train import Damage, TrainConfig, TrainResult, accuracy, damage_masks, train_model
from spiking_mcc.twopoint.transfer import UNIT_LAW


def damage_at_test_time(result: TrainResult, data, fractions: list[float], seed: int = 0,
                     repeats: int = 5) -> list[dict]:
    """Accuracy of a trained network with `fraction` of its hidden units silenced, per fraction."""
    net = result.network
    intact = accuracy(net, data.audio_test, data.visual_test, data.y_test)
    rows = []
    for fraction in fractions:
        rng = np.random.default_rng(seed + 1000)
        accs = [accuracy(net, data.audio_test, data.visual_test, data.y_test,
                         damage_masks(net, fraction, rng)) for _ in range(repeats)]
        rows.append({"fraction": float(fraction), "accuracy_intact": intact,
                     "accuracy_mean": float(np.mean(accs)), "accuracy_std": float(np.std(accs)),
                     "drop": intact - float(np.mean(accs))})
    return rows


def mid_training_damage(model: str, setup: str, data, epochs: int, fraction: float, seed: int = 0,
                        law: str = UNIT_LAW, config: TrainConfig | None = None) -> dict:
    """Train with `fraction` of the hidden units silenced from epoch epochs // 2 on; drop and recovery."""
    damage_epoch = max(1, epochs // 2)
    result = train_model(model, setup, data, epochs, seed, law=law, config=config,
                         damage=Damage(fraction, damage_epoch))
    info = result.damage
    return {"model": model, "setup": setup, "fraction": float(fraction), "damage_epoch": damage_epoch,
            "accuracy_before": info["accuracy_before"], "accuracy_after": info["accuracy_after"],
            "accuracy_final": result.test_accuracy, "drop": info["accuracy_before"] - info["accuracy_after"],
            "recovery": result.test_accuracy - info["accuracy_after"],
            "history": [h["test_accuracy"] for h in result.history]}
