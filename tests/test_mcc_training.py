"""Training the MCC network and the point baseline: accuracy, determinism, semi-supervision, damage."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from spiking_mcc.errors import DataError
from spiking_mcc.mcc.resilience import damage_at_test_time, mid_training_damage
from spiking_mcc.mcc.train import TrainConfig, train_model

SMALL = TrainConfig(hidden=(32, 16))


@pytest.fixture(scope="module")
def data():
    """A 900-sample training subset of the audio-visual digits (all 300 test samples)."""
    from spiking_mcc.data.avdigits import load_avdigits

    full = load_avdigits(seed=0)
    keep = np.random.default_rng(0).permutation(len(full.y_train))[:900]
    return SimpleNamespace(audio_train=full.audio_train[keep], visual_train=full.visual_train[keep],
                           y_train=full.y_train[keep], audio_test=full.audio_test,
                           visual_test=full.visual_test, y_test=full.y_test)


@pytest.fixture(scope="module")
def trained(data):
    return {model: train_model(model, "supervised", data, 6, 0, config=SMALL) for model in ("mcc", "point")}


def test_both_networks_learn_the_small_subset(trained):
    for model, result in trained.items():
        assert result.test_accuracy > 0.85, model
        accs = [h["test_accuracy"] for h in result.history]
        assert len(accs) == 6 and accs[-1] > accs[0] - 0.02
        assert result.history[-1]["loss"] < result.history[0]["loss"]


def test_same_seed_same_numbers(data, trained):
    again = train_model("mcc", "supervised", data, 6, 0, config=SMALL)
    assert again.history == trained["mcc"].history
    for key, value in trained["mcc"].params.items():
        np.testing.assert_array_equal(again.params[key], value)
    other = train_model("mcc", "supervised", data, 1, 1, config=SMALL)
    assert not np.array_equal(other.params["audio0_w_r"], trained["mcc"].params["audio0_w_r"])


def test_semi_supervised_uses_a_tenth_of_the_labels_and_pseudo_labels(data):
    result = train_model("mcc", "semi", data, 6, 0, config=replace(SMALL, warmup_fraction=0.5))
    assert all(h["n_pseudo"] == 0 for h in result.history[:3])
    assert all(h["n_pseudo"] > 300 for h in result.history[3:])
    assert result.test_accuracy > 0.5  # 90 labels (9 per class), 6 epochs; chance is 0.1


def test_silencing_units_drops_accuracy_at_test_time(data, trained):
    rows = damage_at_test_time(trained["point"], data, [0.0, 0.3, 0.7], seed=0, repeats=3)
    assert rows[0]["drop"] == pytest.approx(0.0)
    assert rows[2]["drop"] > 0.1
    assert rows[2]["accuracy_mean"] < rows[1]["accuracy_mean"] + 0.02


def test_training_recovers_from_sudden_damage(data):
    row = mid_training_damage("mcc", "supervised", data, 6, 0.6, seed=0, config=SMALL)
    assert row["damage_epoch"] == 3
    assert row["accuracy_after"] < row["accuracy_before"] - 0.05
    assert row["recovery"] > 0.2


def _broken(data, **changes):
    fields = dict(vars(data))
    fields.update(changes)
    return SimpleNamespace(**fields)


def test_bad_training_data_names_the_array(data):
    labels = data.y_train.copy()
    labels[5] = 12
    with pytest.raises(DataError, match="training labels"):
        train_model("mcc", "supervised", _broken(data, y_train=labels), 1, 0, config=SMALL)
    audio = data.audio_test.copy()
    audio[0, 0] = np.nan
    with pytest.raises(DataError, match="test audio.*NaN"):
        train_model("point", "supervised", _broken(data, audio_test=audio), 1, 0, config=SMALL)
    with pytest.raises(DataError, match="test visual.*shape"):
        train_model("point", "supervised", _broken(data, visual_test=data.visual_test[:, :60]), 1, 0,
                    config=SMALL)


def test_incongruent_pairs_show_another_digit():
    from spiking_mcc.mcc.task import blank_modality, incongruent_pairs

    labels = np.repeat(np.arange(10), 5)
    index, image_labels = incongruent_pairs(np.zeros((50, 3)), labels, np.random.default_rng(0))
    assert np.all(image_labels != labels) and np.array_equal(image_labels, labels[index])
    assert len(np.unique(image_labels)) == 10  # drawn from every other digit, not a fixed shift
    blanked = blank_modality(SimpleNamespace(audio_train=np.ones((2, 3)), visual_train=np.ones((2, 2)),
                                             y_train=np.zeros(2), audio_test=np.ones((1, 3)),
                                             visual_test=np.ones((1, 2)), y_test=np.zeros(1)), "audio")
    assert not blanked.audio_train.any() and not blanked.audio_test.any() and blanked.visual_test.all()


def test_dnn_baseline_is_tuned_and_learns_over_three_seeds(data):
    from spiking_mcc.mcc.dnn import DNN_LEARNING_RATES, train_dnn

    tuned = train_dnn(data, (32, 16), 3, 0)
    assert set(tuned.validation) == {f"{lr:g}" for lr in DNN_LEARNING_RATES}
    assert tuned.validation[f"{tuned.learning_rate:g}"] == max(tuned.validation.values())
    accs = [train_dnn(data, (32, 16), 3, s, learning_rate=tuned.learning_rate).test_accuracy
            for s in (0, 1, 2)]
    assert np.mean(accs) > 0.93 and min(accs) > 0.9  # clean AV digits: images alone give ~97%
    last = tuned.history[-1]
    assert last["all_events_per_sample"] == last["feedforward_events_per_sample"] > 0
    assert last["active_neurons_per_sample"] <= 64 + 32
