"""MCC network and point baseline: exact gradients, transmission counting, model files, bad input."""

import numpy as np
import pytest

from spiking_mcc.errors import DataError, ModelError, ParameterError
from spiking_mcc.mcc.activity import count_transmissions, workload
from spiking_mcc.mcc.network import (
    check_inputs,
    context_masks,
    forward,
    full_masks,
    init_network,
    load_network,
    local_mask,
    loss_and_grads,
    save_network,
)


def _perturbed(model, law, scale, seed=3, context_source="broadcast", context_k=0):
    net = init_network(model, 5, 4, hidden=(4, 3), law=law, seed=seed, context_source=context_source,
                       context_k=context_k)
    rng = np.random.default_rng(seed)
    for key in net.params:
        net.params[key] = net.params[key] + rng.normal(0.0, scale, net.params[key].shape)
    _apply_wiring(net)
    net.norm["audio_mean"] = rng.normal(0, 0.2, 5)
    net.norm["visual_std"] = rng.uniform(0.5, 1.5, 4)
    return net


def _apply_wiring(net):
    """Zero the context weights outside the wiring masks (they are not parameters)."""
    for layer in range(net.n_layers):
        if net.has_context(layer):
            mask_p, mask_d = context_masks(net, layer)
            for s in ("audio", "visual"):
                net.params[f"{s}{layer}_w_p"] *= mask_p
                net.params[f"{s}{layer}_w_d"] *= mask_d


@pytest.mark.parametrize(("model", "law", "source", "k"), [
    ("mcc", "kp", "broadcast", 0), ("mcc", "coop", "broadcast", 0), ("mcc", "additive", "broadcast", 0),
    ("mcc", "gain", "broadcast", 0), ("mcc", "coop_published", "broadcast", 0), ("mcc", "gain", "sent", 0),
    ("mcc", "kp", "sent", 0), ("mcc", "gain", "broadcast", 2), ("mcc", "gain", "sent", 2),
    ("point", "point", "broadcast", 0)])
def test_backprop_matches_finite_differences(model, law, source, k):
    # kp: small weights and seed 4, so most units sit inside the exponent clip (non-zero context gradient)
    scale, seed = (0.05, 4) if law == "kp" else (0.3, 3)
    net = _perturbed(model, law, scale, seed=seed, context_source=source, context_k=k)
    rng = np.random.default_rng(1)
    audio, visual = rng.normal(size=(7, 5)), rng.normal(size=(7, 4))
    labels = rng.integers(0, 10, 7)
    weight = rng.uniform(0.2, 1.0, 7)
    masks = full_masks(net)
    masks["visual0"][1] = 0.0  # a silenced unit must be handled exactly too

    def loss():
        return loss_and_grads(net, audio, visual, labels, weight, activity_l1=0.3, masks=masks)[0]

    _, grads = loss_and_grads(net, audio, visual, labels, weight, activity_l1=0.3, masks=masks)
    assert set(grads) == set(net.params)
    eps = 1e-6
    for key, w in net.params.items():
        numeric = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            old = w[idx]
            w[idx] = old + eps
            up = loss()
            w[idx] = old - eps
            down = loss()
            w[idx] = old
            numeric[idx] = (up - down) / (2 * eps)
        layer = int(key[5:6]) if key.startswith("audio") else int(key[6:7]) if key.startswith("visual") else 0
        if key.endswith(("_w_p", "_w_d")):  # weights outside the wiring are not parameters
            numeric *= context_masks(net, layer)[0 if key.endswith("_w_p") else 1]
        rel = np.abs(numeric - grads[key]).max() / max(np.abs(numeric).max(), 1e-4)
        assert rel < 1e-5, f"{model}/{law}/{source}/k={k} {key}: relative error {rel:.2e}"
        assert np.abs(grads[key]).max() > 0 or key.startswith("out_b"), f"{key}: zero gradient"


def test_point_baseline_has_same_neurons_and_no_context():
    mcc = init_network("mcc", 10, 64, hidden=(16, 8))
    point = init_network("point", 10, 64, hidden=(16, 8))
    assert point.law == "point" and not any(k.endswith(("_w_p", "_w_d", "_w_u")) for k in point.params)
    shared = {k: v.shape for k, v in point.params.items()}
    assert all(mcc.params[k].shape == s for k, s in shared.items())
    with pytest.raises(ParameterError, match="law"):
        init_network("mcc", 10, 64, law="point")


def _hand_made(model, law="kp", **wiring):
    """audio=[1], visual=[1]; layer 0 R_audio = [1, -1, 2], R_visual = [1, 1, 1]; layer 1 all-ones weights;
    `wiring`: context_source / context_k of the MCC network."""
    net = init_network(model, 1, 1, hidden=(3, 2), n_classes=4, law=law, **wiring)
    for key in net.params:
        net.params[key] = np.zeros_like(net.params[key])
    net.params["audio0_w_r"][:, 0] = [1.0, -1.0, 2.0]
    net.params["visual0_w_r"][:, 0] = [1.0, 1.0, 1.0]
    net.params["audio1_w_r"][:] = 1.0
    net.params["visual1_w_r"][:] = 1.0
    return net


def test_transmissions_on_a_hand_made_network():
    one = np.ones((1, 1))
    point = count_transmissions(_hand_made("point"), one, one)
    # layer 0: 2 audio + 3 visual units transmit to 2 units each; layer 1: 2 + 2 units to 4 classes
    assert point.feedforward_per_sample == 2 * 2 + 3 * 2 + 2 * 4 + 2 * 4
    assert point.context_per_sample == 0
    assert point.energy_uj_per_sample == pytest.approx(26 * 8e-5)
    mcc = count_transmissions(_hand_made("mcc"), one, one)
    assert mcc.feedforward_per_sample == 26  # zero context weights: kp gives A = R
    # each active unit sends relu(R) to n-1 neighbours, n distal units and the summary; each summary to 2n
    assert mcc.context_per_sample == (2 * 6 + 6) + (3 * 6 + 6) + (2 * 4 + 4) + (2 * 4 + 4)
    high = count_transmissions(_hand_made("point"), one, one, theta=1.5)
    # only audio unit 2 (y = 2) passes layer 0; layer 1 audio gets R = 2, visual gets R = 0
    assert high.feedforward_per_sample == 1 * 2 + 2 * 4
    record = workload(_hand_made("mcc"), mcc, "hand")
    assert record["kind"] == "transmissions"
    assert sum(layer["synaptic_events"] for layer in record["layers"]) == pytest.approx(26 + 66)
    first = record["layers"][0]
    # analog-input layer: an energy model charges its MACs, so they must not repeat its context events
    assert first["analog_input"] and first["macs"] == 3 * 1
    assert record["layers"][2]["macs"] == 2 * 3 + 2 * (2 * 2 + 2)  # feed-forward + context MACs


def test_threshold_silences_outputs_downstream():
    net = _hand_made("point")
    fw = forward(net, np.ones((1, 1)), np.ones((1, 1)), theta=1.5)
    np.testing.assert_allclose(fw.layers[0]["audio"]["y"], [[0.0, 0.0, 2.0]])
    np.testing.assert_allclose(fw.layers[1]["visual"]["y"], [[0.0, 0.0]])


@pytest.mark.parametrize("model", ["mcc", "point"])
def test_save_load_round_trip(tmp_path, model):
    net = _perturbed(model, "coop" if model == "mcc" else "point", 0.3)
    path = save_network(net, tmp_path / f"{model}.npz")
    with np.load(path, allow_pickle=False) as npz:
        assert str(npz["format"]) == "spiking-mcc/mcc-v1" and str(npz["model"]) == model
    back = load_network(path)
    assert (back.model, back.law, back.hidden) == (net.model, net.law, net.hidden)
    x_a, x_v = np.random.default_rng(0).normal(size=(6, 5)), np.random.default_rng(1).normal(size=(6, 4))
    np.testing.assert_array_equal(forward(back, x_a, x_v).logits, forward(net, x_a, x_v).logits)


def test_bad_model_files_name_the_file(tmp_path):
    with pytest.raises(ModelError, match="missing.npz"):
        load_network(tmp_path / "missing.npz")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"not a zip file")
    with pytest.raises(ModelError, match="corrupt.npz"):
        load_network(corrupt)
    net = _perturbed("mcc", "kp", 0.1)
    path = save_network(net, tmp_path / "ok.npz")
    arrays = dict(np.load(path, allow_pickle=False))
    arrays["audio1_w_d"] = np.zeros((2, 2))
    np.savez(tmp_path / "shape.npz", **arrays)
    with pytest.raises(ModelError, match="audio1_w_d"):
        load_network(tmp_path / "shape.npz")
    arrays = dict(np.load(path, allow_pickle=False))
    arrays["format"] = np.array("something-else")
    np.savez(tmp_path / "fmt.npz", **arrays)
    with pytest.raises(ModelError, match="format"):
        load_network(tmp_path / "fmt.npz")


def test_bad_inputs_name_the_array():
    net = init_network("mcc", 5, 4, hidden=(4, 3))
    good_a, good_v, labels = np.zeros((3, 5)), np.zeros((3, 4)), np.array([0, 1, 9])
    check_inputs(net, good_a, good_v, labels)
    with pytest.raises(DataError, match="audio.*shape"):
        check_inputs(net, np.zeros((3, 6)), good_v, labels)
    bad = good_v.copy()
    bad[1, 2] = np.nan
    with pytest.raises(DataError, match="visual.*NaN"):
        check_inputs(net, good_a, bad, labels)
    with pytest.raises(DataError, match="labels.*\\[0, 10\\)"):
        check_inputs(net, good_a, good_v, np.array([0, 1, 10]))


def _hand_made_context(source, k=0):
    """The hand-made network with `gain` (A = R at zero context weights) and the given context wiring."""
    return _hand_made("mcc", law="gain", context_source=source, context_k=k)


def test_context_on_sent_spikes_adds_events_but_no_active_neurons():
    one = np.ones((1, 1))
    point = count_transmissions(_hand_made("point"), one, one)
    sent = count_transmissions(_hand_made_context("sent"), one, one)
    layer0 = {k for k in _hand_made_context("sent").params if k.startswith(("audio0", "visual0"))}
    assert layer0 == {"audio0_w_r", "audio0_b_r", "visual0_w_r", "visual0_b_r"}  # `sent`: no layer-0 context
    assert sent.feedforward_per_sample == point.feedforward_per_sample == 26
    assert sent.active_neurons_per_sample == point.active_neurons_per_sample == 5 + 4
    # the 5 sending layer-0 units reach 2 proximal + 2 distal + 1 summary synapse in layer 1; each of the
    # two non-zero summaries reaches the 2 x 2 units of layer 1
    assert sent.context_per_sample == 5 * 5 + 2 * 4
    assert (point.context_synapses, sent.feedforward_synapses) == (0, 28)
    assert sent.context_synapses == 2 * (6 + 6 + 3 + 4)


def test_sparse_local_context_wiring():
    mask = local_mask(8, 8, 3, True)
    assert np.all(mask.sum(axis=1) == 3) and np.all(np.diag(mask) == 0)
    assert mask[0, 1] == mask[0, 7] == mask[0, 2] == 1  # the nearest neighbours on the ring
    assert np.array_equal(local_mask(4, 8, 0, False), np.ones((4, 8)))
    assert local_mask(4, 8, 2, False).sum(axis=1).tolist() == [2, 2, 2, 2]
    one = np.ones((1, 1))
    dense = count_transmissions(_hand_made_context("broadcast"), one, one)
    sparse = count_transmissions(_hand_made_context("broadcast", k=1), one, one)
    assert dense.context_per_sample == 66
    # k = 1: each context sender reaches 1 proximal + 1 distal + the summary
    assert sparse.context_per_sample == (5 * 3 + 2 * 6) + (4 * 3 + 2 * 4)
    assert sparse.context_synapses < dense.context_synapses
    with pytest.raises(ParameterError, match="context_k"):
        init_network("mcc", 1, 1, context_k=-1)
    with pytest.raises(ParameterError, match="context_source"):
        init_network("mcc", 1, 1, context_source="echo")


def test_context_wiring_round_trips_and_old_files_load_as_broadcast(tmp_path):
    net = _perturbed("mcc", "gain", 0.3, context_source="sent", context_k=2)
    back = load_network(save_network(net, tmp_path / "sent.npz"))
    assert (back.context_source, back.context_k) == ("sent", 2)
    x_a, x_v = np.random.default_rng(0).normal(size=(4, 5)), np.random.default_rng(1).normal(size=(4, 4))
    np.testing.assert_array_equal(forward(back, x_a, x_v).logits, forward(net, x_a, x_v).logits)
    old = dict(np.load(save_network(_perturbed("mcc", "kp", 0.1), tmp_path / "b.npz"), allow_pickle=False))
    del old["context_source"], old["context_k"]
    np.savez(tmp_path / "old.npz", **old)
    assert load_network(tmp_path / "old.npz").context_source == "broadcast"
