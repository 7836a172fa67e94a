"""NIR out and in (issue 14; docs/conversion.md, section "NIR"): folded export that other libraries load,
exact round trip of spike counts, and the reader's handling of each exporter's conventions."""

import json

import nir
import numpy as np
import pytest

from conversion import engine
from conversion.importers.nir_import import from_nir_graph, read_nir_network
from conversion.ir import Dense, Graph, ReLU
from conversion.nir_export import to_nir, write_nir
from conversion.reference_models import train_reference
from conversion.thresholds import convert
from spiking_mcc.data.digits import load_digits_split
from spiking_mcc.errors import ModelError

NEURON_MODES = [
    dict(init_membrane_fraction=0.5),  # the convert command's default: reset by subtraction
    dict(reset="zero", init_membrane_fraction=0.0),  # what NIR states exactly
    dict(readout="counts", leak=0.05, init_membrane_fraction=0.5),
]


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(seed=0)


@pytest.fixture(scope="module", params=["digits-mlp", "digits-cnn"])
def model(request):
    return train_reference(request.param, seed=0)[0]


@pytest.mark.parametrize("neuron", NEURON_MODES, ids=["subtract-init", "zero", "counts-leak"])
def test_export_reimports_with_identical_spike_counts(model, digits, neuron, tmp_path):
    net = convert(model, digits.x_train, "distribution", timesteps=8, **neuron)
    write_nir(net, tmp_path / "m.nir")
    back = read_nir_network(tmp_path / "m.nir").net
    ours, theirs = engine.simulate(net, digits.x_test, 8)[0], engine.simulate(back, digits.x_test, 8)[0]
    assert set(ours.spikes) == set(theirs.spikes) and ours.spikes
    for layer, counts in ours.spikes.items():
        np.testing.assert_array_equal(theirs.spikes[layer], counts)
    np.testing.assert_array_equal(theirs.predictions, ours.predictions)
    assert (back.reset, back.init_membrane_fraction, back.readout) == (net.reset, net.init_membrane_fraction,
                                                                        net.readout)


def test_export_is_folded_for_other_readers(model, digits, tmp_path):
    """One threshold (1) per layer, no Scale, sum pooling only, v_reset 0, honest metadata."""
    net = convert(model, digits.x_train, "distribution", timesteps=8, init_membrane_fraction=0.5)
    assert any(np.asarray(v).size > 1 for v in net.v_th.values())  # per-neuron thresholds were folded
    lossy = write_nir(net, tmp_path / "m.nir")
    raw = nir.read(tmp_path / "m.nir")
    kinds = {type(n).__name__ for n in raw.nodes.values()}
    assert "Scale" not in kinds and "AvgPool2d" not in kinds and "IF" in kinds
    assert ("SumPool2d" in kinds) == ("Conv2d" in kinds)
    for node in raw.nodes.values():
        if isinstance(node, nir.IF):
            assert np.all(node.v_threshold == 1.0) and np.all(node.r == 1.0) and np.all(node.v_reset == 0.0)
            assert node.metadata["reset_mode"] == "subtract"
    assert raw.metadata["reset"] == "subtract" and raw.metadata["init_membrane_fraction"] == 0.5
    assert len(lossy) == 2 and "subtraction" in lossy[0] and "initial membrane" in lossy[1]


def test_exact_mode_states_the_simulated_network(model, digits):
    lossy_net = convert(model, digits.x_train, "percentile", timesteps=8, init_membrane_fraction=0.5)
    with pytest.raises(ModelError, match="exact NIR export impossible.*subtraction"):
        to_nir(lossy_net, exact=True)
    net = convert(model, digits.x_train, "percentile", timesteps=8, reset="zero",
                  init_membrane_fraction=0.0)
    export = to_nir(net, exact=True)
    assert export.lossy == [] and export.graph.metadata["lossy"] == "none"
    # read as any other library would: no metadata, reset from v_reset; same spikes
    bare = nir.NIRGraph(export.graph.nodes, export.graph.edges)
    back = from_nir_graph(bare).net
    x = digits.x_test[:100]
    ours, theirs = engine.simulate(net, x, 8)[0], engine.simulate(back, x, 8)[0]
    for layer, counts in ours.spikes.items():
        np.testing.assert_array_equal(theirs.spikes[layer], counts)


def test_onnx_style_names_are_read_back(tmp_path):
    rng = np.random.default_rng(0)
    layers = [Dense(rng.normal(size=(5, 4)), np.zeros(5), name="/0/Gemm"), ReLU(name="/1/Relu"),
              Dense(rng.normal(size=(3, 5)), np.zeros(3), name="/2/Gemm")]
    net = convert(Graph.sequential((4,), layers), np.abs(rng.normal(size=(50, 4))), "max")
    write_nir(net, tmp_path / "m.nir")
    raw = nir.read(tmp_path / "m.nir")
    assert set(raw.nodes) == {"input", "0_Gemm", "1_Relu", "2_Gemm", "output"}
    assert read_nir_network(tmp_path / "m.nir").net.graph.populations() == ["1_Relu"]


# -- reading other exporters' conventions -------------------------------------------------------------
def _chain(*nodes, metadata=None):
    names = [f"n{i}" for i in range(len(nodes))]
    n_in = nodes[0].weight.shape[1]
    last = nodes[-1]
    n_out = last.weight.shape[0] if hasattr(last, "weight") else len(getattr(last, "r", np.ones(12)))
    graph_nodes = {"input": nir.Input({"input": np.array([n_in])}), **dict(zip(names, nodes)),
                   "output": nir.Output({"output": np.array([n_out])})}
    path = ["input", *names, "output"]
    return nir.NIRGraph(graph_nodes, list(zip(path[:-1], path[1:])), metadata=metadata or {})


def _reference(x, w1, b1, w2, b2, beta, v_th, reset, steps, w_in=1.0):
    """Hand loop of Affine -> neuron(beta, v_th, reset) -> Affine -> neuron: output spike counts."""
    v1, v2 = np.zeros((len(x), len(b1))), np.zeros((len(x), len(b2)))
    counts = np.zeros_like(v2)
    for _ in range(steps):
        outs = []
        for i, (w, b) in enumerate(((w1, b1), (w2, b2))):
            current = w_in * ((x if i == 0 else outs[0]) @ w.T + b)
            v = (v1, v2)[i]
            v[:] = beta * v + current
            s = (v > v_th[i]).astype(float)
            v[:] = v - s * v_th[i] if reset == "subtract" else v * (1 - s)
            outs.append(s)
        counts += outs[1]
    return counts


@pytest.fixture
def weights():
    rng = np.random.default_rng(3)
    return (rng.normal(0, 0.8, (12, 6)), rng.normal(0, 0.1, 12), rng.normal(0, 0.8, (4, 12)),
            rng.normal(0, 0.1, 4), np.abs(rng.normal(0, 1, (40, 6))))


def _counts(net, x, steps):
    return engine.simulate(net, x, steps, dtype="float64")[0]  # compared with float64 references


def _output_counts(net, x, steps):
    result = _counts(net, x, steps)
    return result.spikes[net.graph.outputs[0]]


def test_snntorch_lif_convention(weights):
    """snnTorch: LIF(tau = dt/(1-beta), r = tau/dt), dt 1e-4, v_reset 0 although it subtracts."""
    w1, b1, w2, b2, x = weights
    beta, dt = 0.8, 1e-4
    tau = dt / (1 - beta)

    def lif(n, th):
        return nir.LIF(np.full(n, tau), np.full(n, tau / dt), np.zeros(n), np.full(n, th), np.zeros(n))

    graph = _chain(nir.Affine(w1, b1), lif(12, 0.7), nir.Affine(w2, b2), lif(4, 1.3))
    for reset in ("zero", "subtract"):
        net = from_nir_graph(graph, reset=None if reset == "zero" else "subtract").net
        assert net.reset == reset and net.readout == "counts" and net.leak == pytest.approx(1 - beta)
        expected = _reference(x, w1, b1, w2, b2, beta, (0.7, 1.3), reset, 10).sum(axis=1)
        np.testing.assert_array_equal(_output_counts(net, x, 10), expected)
    # a per-layer leak: the second layer leaks at 0.5
    other = nir.LIF(np.full(4, 2 * dt), np.full(4, 2.0), np.zeros(4), np.full(4, 1.3), np.zeros(4))
    net = from_nir_graph(_chain(nir.Affine(w1, b1), lif(12, 0.7), nir.Affine(w2, b2), other)).net
    assert net.layer_leak == {"n1": pytest.approx(0.2), "n2": pytest.approx(0.5)}  # n2: the output layer


def test_spikingjelly_and_sinabs_if_conventions(weights):
    """SpikingJelly: IF(r = 1/dt); sinabs: IF(r = 1), per-neuron thresholds, reset by subtraction."""
    w1, b1, w2, b2, x = weights
    jelly = _chain(nir.Affine(w1, b1), nir.IF(np.full(12, 1e4), np.ones(12), np.zeros(12)),
                   nir.Affine(w2, b2), nir.IF(np.full(4, 1e4), np.ones(4), np.zeros(4)))
    expected = _reference(x, w1, b1, w2, b2, 1.0, (1.0, 1.0), "zero", 12).sum(axis=1)
    np.testing.assert_array_equal(_output_counts(from_nir_graph(jelly).net, x, 12), expected)
    th1 = np.linspace(0.5, 1.5, 12)
    sinabs = _chain(nir.Affine(w1, b1), nir.IF(np.ones(12), th1, np.zeros(12)),
                    nir.Affine(w2, b2), nir.IF(np.ones(4), np.full(4, 2.0), np.zeros(4)))
    expected = _reference(x, w1, b1, w2, b2, 1.0, (th1, 2.0), "subtract", 12).sum(axis=1)
    net = from_nir_graph(sinabs, reset="subtract").net
    np.testing.assert_array_equal(_output_counts(net, x, 12), expected)
    # --dt changes what r means: r = 1 with dt 0.5 halves every input current
    halved = _reference(x, w1, b1, w2, b2, 1.0, (th1, 2.0), "subtract", 12, w_in=0.5).sum(axis=1)
    np.testing.assert_array_equal(_output_counts(from_nir_graph(sinabs, dt=0.5, reset="subtract").net, x, 12),
                                  halved)


def test_li_readout_is_a_leaky_membrane(weights):
    w1, b1, w2, b2, x = weights
    dt, tau = 1e-4, 4e-4  # leak 0.25
    graph = _chain(nir.Affine(w1, b1), nir.IF(np.ones(12), np.ones(12), np.zeros(12)), nir.Affine(w2, b2),
                   nir.LI(np.full(4, tau), np.full(4, tau / dt), np.zeros(4)))
    net = from_nir_graph(graph).net
    assert net.readout == "membrane" and net.layer_leak == {"n2": 0.25}
    v1, membrane = np.zeros((len(x), 12)), np.zeros((len(x), 4))
    for _ in range(6):
        v1 += x @ w1.T + b1
        s = (v1 > 1).astype(float)  # the engines' rule
        v1 *= 1 - s
        membrane = 0.75 * membrane + s @ w2.T + b2
    np.testing.assert_allclose(_counts(net, x, 6).readout, membrane, rtol=1e-12, atol=1e-12)


def test_unsupported_conventions_are_named(weights):
    w1, b1, w2, b2, _ = weights
    n = 12

    def graph(neuron):
        return _chain(nir.Affine(w1, b1), neuron, nir.Affine(w2, b2))

    cases = [
        (nir.IF(np.ones(n), np.ones(n), np.full(n, 0.2)), "'n1': v_reset other than 0"),
        (nir.LIF(np.full(n, 1e-3), np.full(n, 10.0), np.full(n, 0.1), np.ones(n)), "'n1': v_leak"),
        (nir.LIF(np.linspace(1e-3, 2e-3, n), np.full(n, 10.0), np.zeros(n), np.ones(n)), "'n1': tau differs"),
        (nir.CubaLIF(np.full(n, 5e-4), np.full(n, 1e-3), np.full(n, 10.0), np.zeros(n), np.ones(n)),
         "'n1': CubaLIF with synaptic decay"),
        (nir.Threshold(np.ones(n)), r"'n1' \(Threshold\) is not supported"),
    ]
    for neuron, message in cases:
        with pytest.raises(ModelError, match=message):
            from_nir_graph(graph(neuron))


def test_cubalif_with_instantaneous_synapse_reads_as_lif(weights):
    w1, b1, w2, b2, x = weights
    dt = 1e-4
    cuba = nir.CubaLIF(np.full(4, dt), np.full(4, 5 * dt), np.full(4, 5.0), np.zeros(4), np.full(4, 0.9))
    spiking = nir.IF(np.full(12, 1 / dt), np.ones(12), np.zeros(12))
    graph = _chain(nir.Affine(w1, b1), spiking, nir.Affine(w2, b2), cuba)
    net = from_nir_graph(graph, dt=dt).net
    expected = _reference(x, w1, b1, w2, b2, 1.0, (1.0, 0.9), "zero", 8)
    # layer 1 has no leak and layer 2 leaks at 0.2: rerun the hand loop's second layer with that leak
    v1, v2, counts = np.zeros((len(x), 12)), np.zeros((len(x), 4)), np.zeros((len(x), 4))
    for _ in range(8):
        v1 += x @ w1.T + b1
        s = (v1 > 1).astype(float)  # the engines' rule
        v1 *= 1 - s
        v2 = 0.8 * v2 + s @ w2.T + b2
        s2 = (v2 > 0.9).astype(float)
        v2 *= 1 - s2
        counts += s2
    assert not np.array_equal(counts, expected)  # the leak matters for this case
    np.testing.assert_array_equal(_output_counts(net, x, 8), counts.sum(axis=1))


def test_cli_converts_a_nir_file(cli, weights, tmp_path):
    w1, b1, w2, b2, _ = weights
    rng = np.random.default_rng(0)
    w1 = rng.normal(0, 0.3, (12, 64))
    graph = _chain(nir.Affine(w1, b1), nir.IF(np.ones(12), np.ones(12), np.zeros(12)), nir.Affine(w2, b2))
    nir.write(tmp_path / "m.nir", graph)
    out = tmp_path / "out"
    assert cli(["convert", str(tmp_path / "m.nir"), "--timesteps", "2,4", "--samples", "20", "--reset",
                "subtract", "--out", str(out)]) == 0
    summary = json.loads((out / "convert.json").read_text())
    assert [e["timesteps"] for e in summary["snn"]] == [2, 4] and summary["neuron"]["reset"] == "subtract"
    assert summary["n_test"] == 20 and summary["ann_accuracy"] is None
    assert cli(["convert", str(tmp_path / "m.nir"), "--leak", "0.1", "--out", str(out)]) == 2  # not as given


def test_avg_pool_mode_writes_avgpool2d_and_round_trips(digits, tmp_path):
    graph, _ = train_reference("digits-cnn", seed=0)
    net = convert(graph, digits.x_train, "distribution", timesteps=8, reset="zero",
                  init_membrane_fraction=0.0)
    write_nir(net, tmp_path / "m.nir", exact=True, pool="avg")
    kinds = {type(n).__name__ for n in nir.read(tmp_path / "m.nir").nodes.values()}
    assert "AvgPool2d" in kinds and "SumPool2d" not in kinds
    back = read_nir_network(tmp_path / "m.nir").net
    x = digits.x_test[:100]
    ours, theirs = engine.simulate(net, x, 8)[0], engine.simulate(back, x, 8)[0]
    for layer, counts in ours.spikes.items():
        np.testing.assert_array_equal(theirs.spikes[layer], counts)


def test_sinabs_style_input_type_with_a_time_axis(weights, tmp_path):
    """sinabs writes Input (1, 64) before an Affine of 64 inputs: nir.read rejects it; the reader drops the
    leading axis, reads without nir's type check and says so."""
    w1, b1, w2, b2, x = weights
    graph = _chain(nir.Affine(w1, b1), nir.IF(np.ones(12), np.ones(12), np.zeros(12)), nir.Affine(w2, b2))
    graph.nodes["input"] = nir.Input({"input": np.array([1, 6])})
    nir.write(tmp_path / "m.nir", graph)
    with pytest.raises(ValueError, match="Type inference"):
        nir.read(tmp_path / "m.nir")
    imported = read_nir_network(tmp_path / "m.nir")
    assert imported.net.graph.inputs["input"] == (6,)
    assert any("type check" in c for c in imported.conventions)
    assert any("(1, 6) read as (6,)" in c for c in imported.conventions)


def test_convert_cli_reports_what_the_nir_file_cannot_state(cli, tmp_path, capsys):
    from conversion.reference_models import save_reference

    model, _ = save_reference(tmp_path / "mlp.npz", "digits-mlp", seed=0)
    out = tmp_path / "out"
    assert cli(["convert", str(model), "--timesteps", "4", "--samples", "50", "--threshold", "max",
                "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    entry = json.loads((out / "convert.json").read_text())["nir"]
    assert entry["mode"] == "default" and len(entry["lossy"]) == 2
    assert printed.count("warning: model.nir:") == 2 and "subtraction" in printed
    assert cli(["convert", str(model), "--timesteps", "4", "--samples", "50", "--threshold", "max",
                "--nir-exact", "--out", str(out)]) == 0
    assert "warning" not in capsys.readouterr().out
    summary = json.loads((out / "convert.json").read_text())
    assert summary["nir"] == {"file": "model.nir", "timesteps": 4, "mode": "exact", "pool": "sum",
                              "lossy": []}
    assert summary["neuron"]["reset"] == "zero" and summary["neuron"]["init_membrane_fraction"] == 0.0


def test_loihi_runs_an_imported_nir_graph(cli, digits, tmp_path):
    """The imported Dense chain runs in Lava fixed point with spike counts equal to the engine."""
    graph, _ = train_reference("digits-mlp", seed=0)
    net = convert(graph, digits.x_train, "percentile", timesteps=4, reset="zero",
                  init_membrane_fraction=0.0)
    write_nir(net, tmp_path / "m.nir", exact=True)
    out = tmp_path / "loihi"
    assert cli(["loihi", str(tmp_path / "m.nir"), "--samples", "10", "--timesteps", "4",
                "--out", str(out)]) == 0
    report = json.loads((out / "loihi.json").read_text())
    assert report["spike_counts_equal"] is True and report["samples"] == 10


def test_li_readout_leaks_even_when_every_layer_leaks_alike(weights):
    w1, b1, w2, b2, x = weights
    dt, tau = 1e-4, 4e-4  # leak 0.25 in the hidden LIF layer and in the LI readout
    hidden = nir.LIF(np.full(12, tau), np.full(12, tau / dt), np.zeros(12), np.ones(12))
    readout = nir.LI(np.full(4, tau), np.full(4, tau / dt), np.zeros(4))
    graph = _chain(nir.Affine(w1, b1), hidden, nir.Affine(w2, b2), readout)
    net = from_nir_graph(graph).net
    assert net.leak == 0.25 and net.layer_leak == {"n2": 0.25}
    v1, membrane = np.zeros((len(x), 12)), np.zeros((len(x), 4))
    for _ in range(5):
        v1 = 0.75 * v1 + x @ w1.T + b1
        s = (v1 > 1).astype(float)  # the engines' rule
        v1 *= 1 - s
        membrane = 0.75 * membrane + s @ w2.T + b2
    np.testing.assert_allclose(_counts(net, x, 5).readout, membrane, rtol=1e-12, atol=1e-12)
