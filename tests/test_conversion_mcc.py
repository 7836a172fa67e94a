"""MCC -> spiking two-compartment units (docs/twopoint_unit.md, docs/twopoint_laws.md): the unit follows
the rate law, the point
law is a plain IF neuron, the import is exact, the converted network keeps the ANN's accuracy, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from conversion import engine, mcc_engine, twopoint_spiking, twopoint_unit
from conversion.importers.mcc import load_mcc_network, read_mcc_model, two_stream_graph
from conversion.importers.npz import write_npz_model
from conversion.ir import Dense, Graph, ReLU, SpikingNetwork
from conversion.mcc_pipeline import convert_mcc
from spiking_mcc.data.avdigits import load_avdigits
from spiking_mcc.errors import DataError, ModelError
from spiking_mcc.io import load_npz, read_json, save_npz
from spiking_mcc.mcc.network import forward, save_network
from spiking_mcc.mcc.train import TrainConfig, train_model
from spiking_mcc.twopoint.transfer import UNIT_LAW, transfer

SMALL = TrainConfig(hidden=(24, 12))
EPOCHS = 4


@pytest.fixture(scope="module")
def data():
    return load_avdigits(0)


@pytest.fixture(scope="module")
def models(data, tmp_path_factory):
    """Small MCC (default law, gain) and point networks trained for a few epochs, saved as model files."""
    folder = tmp_path_factory.mktemp("mcc_models")
    paths = {}
    for model in ("mcc", "point"):
        result = train_model(model, "supervised", data, EPOCHS, 0, config=SMALL)
        paths[model] = save_network(result.network, folder / f"{model}.npz")
    return paths


def _inputs(data, split: str, n: int | None = None) -> dict[str, np.ndarray]:
    return {"audio": getattr(data, f"audio_{split}")[:n], "visual": getattr(data, f"visual_{split}")[:n]}


# -- the spiking two-point unit ---------------------------------------------------------------------------
def _law_error_bound(r: np.ndarray, theta: float, steps: int) -> np.ndarray:
    """T-step quantiser (theta / 2T), the gain-1 first step (theta / T), the table (|R| g'max step / 2)."""
    return 1.5 * theta / steps + np.abs(r) * twopoint_unit.LUT_STEP / 2 + 1e-12


@pytest.mark.parametrize("steps", [16, 2000])
def test_unit_rate_follows_the_gain_law_under_constant_currents(steps):
    r, c = np.meshgrid(np.linspace(-1.0, 2.0, 13), np.linspace(-3.1, 3.1, 37))  # C between table entries
    target = np.maximum(transfer(UNIT_LAW, r, c), 0.0)
    theta = 4.0
    rate = twopoint_unit.unit_rate(r, c, theta, steps, init_fraction=0.5)
    assert np.all(np.abs(rate * theta - target) <= _law_error_bound(r, theta, steps))


def test_unit_rate_follows_the_gain_law_with_spike_train_inputs():
    """R and C arrive as weighted spike trains (regular IF encoders) plus a bias, as inside a network."""
    x_r, x_c = np.meshgrid(np.linspace(0.0, 1.0, 11), np.linspace(0.0, 1.0, 7))
    w_r, b_r, w_c, b_c = 2.0, -0.5, 3.0, -1.5  # mean R in [-0.5, 1.5], mean C in [-1.5, 1.5]
    target = np.maximum(transfer(UNIT_LAW, w_r * x_r + b_r, w_c * x_c + b_c), 0.0)
    theta, steps = 4.0, 2000
    params = twopoint_unit.float_params(theta, theta, 0.0, 0.5, steps)
    state = twopoint_unit.reset_state(params, x_r.shape)
    enc_r, enc_c, count = np.zeros_like(x_r), np.zeros_like(x_c), np.zeros_like(x_r)
    for t in range(1, steps + 1):
        enc_r, spikes_r = engine.if_step(enc_r, x_r, 1.0)
        enc_c, spikes_c = engine.if_step(enc_c, x_c, 1.0)
        state, _, spikes = twopoint_unit.unit_step(params, state, w_r * spikes_r + b_r, w_c * spikes_c + b_c,
                                                   t)
        count += spikes
    assert np.max(np.abs(count / steps * theta - target)) < 0.01 * theta


def test_context_modulates_but_context_alone_is_silent():
    """The apical gain amplifies coherent drive (R, C > 0), attenuates conflicting, cannot fire alone."""
    rate = lambda r, c: twopoint_unit.unit_rate(r, c, 4.0, 400)  # noqa: E731
    assert rate(0.0, 2.0) == 0.0
    assert rate(1.0, 1.0) > 1.5 * rate(1.0, 0.0)
    assert rate(1.0, -1.0) < 0.3 * rate(1.0, 0.0)


def test_point_law_is_plain_integrate_and_fire():
    rng = np.random.default_rng(0)
    currents = rng.normal(0.3, 0.8, (50, 200, 40))  # time-varying input, steps x samples x units
    v_th = 0.9
    params = twopoint_unit.float_params(v_th, v_th, 0.0, 0.5, len(currents), law="point")
    state = twopoint_unit.reset_state(params, currents.shape[1:])
    v = np.full(currents.shape[1:], 0.5 * v_th)
    total = 0
    for t, current in enumerate(currents, start=1):
        context = rng.normal(size=current.shape)  # ignored by the point law
        state, _, spikes_two_point = twopoint_unit.unit_step(params, state, current, context, t)
        v, spikes_if = engine.if_step(v, current, v_th)
        assert np.mean(spikes_two_point != spikes_if) < 1e-3  # only float round-off at exact ties may differ
        total += spikes_two_point.sum()
    assert total > 0.1 * currents.size / 2  # the neurons did fire


def test_a_law_the_unit_cannot_realise_is_a_one_line_error(data, tmp_path):
    result = train_model("mcc", "supervised", data, 1, 0, law="kp", config=SMALL)
    path = save_network(result.network, tmp_path / "kp.npz")
    with pytest.raises(ModelError, match=r"kp.npz: the spiking two-point unit realises .*'kp'") as err:
        convert_mcc(path, data, [8])
    assert "\n" not in str(err.value)


# -- import ---------------------------------------------------------------------------------------------
def test_imported_graphs_reproduce_the_trained_network(models, data):
    inputs = _inputs(data, "test", 100)
    for path in models.values():
        net = load_mcc_network(path)
        logits = forward(net, inputs["audio"], inputs["visual"]).logits
        graph = two_stream_graph(net)
        values, _ = twopoint_spiking.ann_forward(graph, twopoint_spiking.check_inputs(graph, inputs))
        np.testing.assert_allclose(values[graph.outputs[0]], logits, rtol=1e-9, atol=1e-9)
    chain = read_mcc_model(models["point"])  # the ordinary point-neuron graph on x = [audio, visual]
    x = np.hstack([inputs["audio"], inputs["visual"]])
    point = load_mcc_network(models["point"])
    np.testing.assert_allclose(engine.ops.forward(chain, x)[chain.outputs[0]],
                               forward(point, inputs["audio"], inputs["visual"]).logits, atol=1e-9)


def test_point_network_in_mcc_engine_matches_the_ordinary_engine(models, data):
    """The point baseline as two-point units with law `point` spikes like the ordinary IF conversion."""
    point = load_mcc_network(models["point"])
    graph = two_stream_graph(point)
    net = twopoint_spiking.calibrate(graph, _inputs(data, "train"), "distribution", 8)
    result = mcc_engine.simulate(net, _inputs(data, "test"), [8])[0]
    chain = read_mcc_model(models["point"])  # one chain: layer{l} holds audio units, then visual units

    def merged(values: dict, layer: int) -> np.ndarray:
        parts = [values[f"{s}{layer}_y"] for s in ("audio", "visual")]
        sizes = [point.hidden[layer]] * 2
        return np.concatenate([np.broadcast_to(np.asarray(p, float), (n,)) for p, n in zip(parts, sizes)])

    chain_net = SpikingNetwork(chain, {f"layer{la}_relu": merged(net.v_th, la) for la in (0, 1)},
                               {f"layer{la}_relu": merged(net.output_scale, la) for la in (0, 1)},
                               init_membrane_fraction=0.5)
    x = np.hstack([data.audio_test, data.visual_test])
    reference = engine.simulate(chain_net, x, [8])[0]
    assert np.mean(result.predictions == reference.predictions) >= 0.99
    for layer in (0, 1):
        total = result.spikes[f"audio{layer}_y"].sum() + result.spikes[f"visual{layer}_y"].sum()
        assert abs(total - reference.spikes[f"layer{layer}_relu"].sum()) <= 1e-3 * total


# -- conversion -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def converted(models, data, tmp_path_factory):
    out = tmp_path_factory.mktemp("convert_mcc")
    return out, convert_mcc(models["mcc"], data, [2, 16], out_dir=out, seed=0)


def test_converted_mcc_keeps_ann_accuracy_at_16_steps(converted, data):
    _, summary = converted
    by_t = {e["timesteps"]: e for e in summary["snn"]}
    assert summary["ann_accuracy"] > 0.85  # a trained network (chance is 0.1)
    assert abs(by_t[16]["accuracy"] - summary["ann_accuracy"]) <= 0.02  # 300 test samples: <= 6 samples
    assert by_t[16]["accuracy"] > by_t[2]["accuracy"]  # more steps, finer rate code
    assert by_t[16]["spikes_per_sample"] > by_t[2]["spikes_per_sample"]
    assert 0 < by_t[16]["context_events_per_sample"] < by_t[16]["synaptic_events_per_sample"]
    rates = by_t[16]["firing_rate"]
    assert set(rates) == {f"{s}{layer}_{kind}" for s in ("audio", "visual") for layer in (0, 1)
                          for kind in ("q", "y")}
    assert all(0.0 < r <= 1.0 for r in rates.values())


def test_result_file_and_workloads_follow_the_contract(converted):
    from loihi_targets.energy import validate_workload

    out, summary = converted
    on_disk = read_json(out / "convert_mcc.json")
    assert on_disk["ann_accuracy"] == summary["ann_accuracy"]
    assert sorted(p.name for p in out.iterdir()) == ["convert_mcc.json"]  # the API draws no figure
    workloads = {w["name"]: w for w in summary["workloads"]}
    assert set(workloads) == {"ann", "snn-T2", "snn-T16"}
    for workload in workloads.values():
        validate_workload(workload)
    ann_layers = {la["name"]: la for la in workloads["ann"]["layers"]}
    n0, n1 = SMALL.hidden
    assert ann_layers["audio0_context"]["macs"] == 2 * n0 * n0  # own-stream + other-stream context
    assert ann_layers["audio1"]["macs"] == n1 * n0
    snn = workloads["snn-T16"]
    entry = next(e for e in summary["snn"] if e["timesteps"] == 16)
    total = sum(la["synaptic_events"] for la in snn["layers"])
    assert total == pytest.approx(entry["synaptic_events_per_sample"], rel=1e-9)
    layers = {la["name"]: la for la in snn["layers"]}
    assert layers["audio0"]["analog_input"] and not layers["audio1"]["analog_input"]
    # feed-forward events = spikes of the source population x its fan-out (dense: every synapse non-zero)
    expected = entry["layer_spikes_per_sample"]["audio0_y"] * n1
    assert layers["audio1"]["synaptic_events"] == pytest.approx(expected, rel=1e-9)


# -- bad input ------------------------------------------------------------------------------------------
def test_wrong_format_file_is_a_model_error(tmp_path):
    path = tmp_path / "mlp.npz"
    write_npz_model(path, Graph.sequential((4,), [Dense(np.ones((3, 4)), np.zeros(3)), ReLU()]))
    with pytest.raises(ModelError, match="mlp.npz.*format"):
        load_mcc_network(path)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    with pytest.raises(ModelError, match="garbage.npz"):
        read_mcc_model(garbage)


def test_nan_weights_are_a_model_error_naming_the_array(models, tmp_path):
    arrays = load_npz(models["mcc"])
    arrays["visual1_w_d"] = arrays["visual1_w_d"].copy()
    arrays["visual1_w_d"][0, 0] = np.nan
    path = save_npz(tmp_path / "nan.npz", **arrays)
    with pytest.raises(ModelError, match="nan.npz.*visual1_w_d"):
        convert_mcc(path, "avdigits", [4])


def test_feature_size_mismatch_is_a_data_error_naming_the_array(models, data):
    inputs = _inputs(data, "test", 10)
    graph = two_stream_graph(load_mcc_network(models["mcc"]))
    with pytest.raises(DataError, match="'visual'.*expects \\(64,\\)"):
        twopoint_spiking.check_inputs(graph, {**inputs, "visual": inputs["visual"][:, :60]})
    with pytest.raises(DataError, match="'audio'.*NaN"):
        twopoint_spiking.check_inputs(graph, {**inputs, "audio": np.full_like(inputs["audio"], np.nan)})

    class Short:  # a data set whose audio features do not fit the model
        audio_train, visual_train = data.audio_train[:20, :100], data.visual_train[:20]
        audio_test, visual_test, y_test = data.audio_test[:20, :100], data.visual_test[:20], data.y_test[:20]

    with pytest.raises(DataError, match="'audio'"):
        convert_mcc(models["mcc"], Short(), [4])


def test_convert_command_sends_mcc_files_to_the_two_point_path(models, tmp_path, capsys):
    from spiking_mcc.cli import main

    out = tmp_path / "cli"
    code = main(["convert", str(models["mcc"]), "--data", "avdigits", "--timesteps", "4", "--granularity",
                 "layer", "--samples", "60", "--out", str(out)])
    assert code == 0
    summary = read_json(out / "convert_mcc.json")
    assert summary["network"] == "mcc" and summary["n_test"] == 60
    assert [e["timesteps"] for e in summary["snn"]] == [4]
    assert (out / "accuracy_vs_T.png").stat().st_size > 1000  # the CLI draws, after the JSON
    assert "two-compartment" in capsys.readouterr().out
    # options the two-point engines do not implement, and data without the model's features: exit 2
    assert main(["convert", str(models["mcc"]), "--data", "avdigits", "--encoding", "poisson",
                 "--out", str(out)]) == 2
    assert "encoding" in capsys.readouterr().err
    assert main(["convert", str(models["mcc"]), "--data", "digits", "--out", str(out)]) == 2
    assert "'audio'" in capsys.readouterr().err
