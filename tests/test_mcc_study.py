"""Equal-accuracy comparison of accuracy-vs-transmissions curves (the `compare` headline numbers)."""

import pytest

from spiking_mcc.mcc.study import equal_accuracy_reduction


def _point(accuracy, total, feedforward):
    return {"accuracy": accuracy, "transmissions_per_sample": total,
            "feedforward_transmissions_per_sample": feedforward}


def test_cost_is_the_cheapest_point_reaching_the_target():
    curves = {"mcc": [_point(0.99, 1000, 400), _point(0.95, 300, 100), _point(0.50, 10, 5)],
              "point": [_point(0.98, 2000, 2000), _point(0.96, 1000, 1000), _point(0.90, 400, 400)]}
    rows = {r["target_accuracy"]: r for r in equal_accuracy_reduction(curves, (0.9, 0.95, 0.97, 0.995))}
    assert rows[0.9]["mcc_per_sample"] == 300 and rows[0.9]["point_per_sample"] == 400
    assert rows[0.9]["reduction_per_sample"] == pytest.approx(0.25)
    assert rows[0.9]["ratio_point_over_mcc_per_feedforward"] == pytest.approx(4.0)
    assert rows[0.97]["reduction_per_sample"] == pytest.approx(0.5)
    assert rows[0.97]["ratio_point_over_mcc_per_feedforward"] == pytest.approx(5.0)
    # neither reaches 99.5%: no number rather than a made-up one
    assert rows[0.995]["reduction_per_sample"] is None and rows[0.995]["mcc_per_sample"] is None
