"""Equal-accuracy comparison of accuracy-vs-transmissions curves (the `compare` headline numbers)."""

from dataclasses import replace

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


def _report(reduction, best_ff, mcc_epochs, point_epochs, mcc_drop, point_drop, mcc_final, point_final):
    """A minimal compare.json with the fields the claims read (3 seeds)."""
    ratio = {"target_accuracy": 0.9, "seeds_reached": 3, "reduction_per_sample": reduction,
             "reduction_per_sample_sd": 0.01, "ratio_point_over_mcc_per_feedforward": 1.1,
             "ratio_point_over_mcc_per_feedforward_sd": 0.1}
    learn = {setup: {"target_accuracy": 0.9,
                     "mcc": {"mean": mcc_epochs, "sd": 0.0, "n": 3, "seeds_not_reaching": 0,
                             "mean_unreached_as_epochs_plus_1": mcc_epochs},
                     "point": {"mean": point_epochs, "sd": 0.0, "n": 3, "seeds_not_reaching": 0,
                               "mean_unreached_as_epochs_plus_1": point_epochs}}
             for setup in ("supervised", "noisy_supervised")}
    drop = {m: [{"fraction": f, "drop": d, "drop_sd": 0.0} for f, d in zip((0.1, 0.5), drops)]
            for m, drops in (("mcc", mcc_drop), ("point", point_drop))}
    mid = [{"model": m, "fraction": 0.3, "accuracy_final": a, "accuracy_final_sd": 0.0}
           for m, a in (("mcc", mcc_final), ("point", point_final))]
    return {"seeds": [0, 1, 2], "equal_accuracy_ratios": {"semi": [ratio], "supervised": [ratio]},
            "accounting": {"semi": {"mcc": {"all_events_per_sample": 1.0},
                                    "point": {"all_events_per_sample": 2.0}}},
            "best_case_ratios": [{"accounting": "feedforward_events_per_sample", "ratio": best_ff, "epoch": 2,
                                  "setup": "supervised"}],
            "learning_speed_epochs": learn, "resilience": {"test_time": drop, "mid_training": mid}}


def test_claims_follow_the_documented_rules():
    from spiking_mcc.mcc.study import FULL_PLAN, _claims

    plan = replace(FULL_PLAN, mid_training_fractions=(0.3,))

    def verdicts(*args):
        return [c["reproduced"] for c in _claims(_report(*args), plan)]

    assert verdicts(0.62, 1250, 2, 5, (0.01, 0.1), (0.02, 0.2), 0.99, 0.98) == ["yes"] * 4
    # resilience: 1 win of 3 comparisons; fast learning: half an epoch is not faster
    assert verdicts(0.2, 3.0, 5, 5.5, (0.01, 0.3), (0.02, 0.2), 0.9, 0.98) == ["partly", "partly", "no", "no"]
    assert verdicts(-1.5, 0.9, 6, 5, (0.05, 0.3), (0.02, 0.2), 0.9, 0.98) == ["no"] * 4
    # a best case of 1.2x is within what seeds and accountings spread: no reduction, not "partly"
    assert verdicts(0.62, 1.2, 2, 5, (0.01, 0.1), (0.02, 0.2), 0.99, 0.98)[1] == "no"
    claims = _claims(_report(0.62, 1250, 2, 5, (0.01, 0.1), (0.02, 0.2), 0.99, 0.98), plan)
    assert "62.0 +- 1.0 %" in claims[0]["measured_value"] and "seeds [0, 1, 2]" in claims[0]["measured_value"]
    assert "best case 1250.00x" in claims[1]["measured_value"]
