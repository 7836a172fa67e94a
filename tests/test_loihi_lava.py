"""Lava 0.10.0 against the batched engine, the two-point Process, and the safe runner (docs/loihi.md).

Lava runs are slow to start, so each network runs once in a module-scoped fixture and several tests
read it. Agreement: the fixed-point engine equals Lava ``fixed_pt`` spike for spike; Lava
``floating_pt`` equals the float reference of the same arithmetic, and agrees with the conversion
engine (V >= v_th instead of Lava's V > v_th) on >= 95 % of predictions and within 3 % of spikes.
"""

import dataclasses
import json
import os
import tempfile

import numpy as np
import psutil
import pytest

from conversion.fixed_point.float_reference import simulate_float
from conversion.fixed_point.lowering import float_network
from conversion.fixed_point.simulate import simulate_fixed
from loihi_targets import runner
from loihi_targets.quantize import quantize
from loihi_targets.runner import run_lava
from spiking_mcc.errors import HardwareLimitError, SimulatorError

T = 8
N_SAMPLES = 40


@pytest.fixture(scope="module")
def trained():
    from conversion import reference_models
    from spiking_mcc.data.digits import load_digits_split

    graph, _ = reference_models.train_reference("digits-mlp", seed=0)
    return graph, load_digits_split(0)


def _convert(trained, **neuron):
    from conversion import thresholds

    graph, split = trained
    neuron.setdefault("method", "percentile")  # what `spiking-mcc loihi` converts with
    return thresholds.convert(graph, split.x_train[:500], timesteps=T, **neuron)


def _engine_summary(result, n_pop):
    return ([c.sum(axis=1) for c in result.spike_counts[:n_pop]],
            [c.sum(axis=0) for c in result.spike_counts[:n_pop]])


@pytest.fixture(scope="module")
def fixed_subtract(trained):
    """Converted MLP (reset by subtraction, membrane readout) -> LIFResetSubtract + WindowAccumulator."""
    net = quantize(_convert(trained), T)
    x = trained[1].x_test[:N_SAMPLES]
    return net, x, simulate_fixed(net, x, T), run_lava(net, x, T, timeout_s=120, chunk_samples=7)


@pytest.fixture(scope="module")
def fixed_zero_counts(trained):
    """Reset to zero and spike-count readout -> Lava's own LIFReset for every layer."""
    net = quantize(_convert(trained, reset="zero", readout="counts", init_membrane_fraction=0.0), T)
    x = trained[1].x_test[:N_SAMPLES]
    return net, x, simulate_fixed(net, x, T), run_lava(net, x, T, timeout_s=120)


@pytest.fixture(scope="module")
def float_run(trained):
    snn = _convert(trained)
    net = float_network(snn)
    x = trained[1].x_test[:N_SAMPLES]
    return snn, net, x, simulate_float(net, x, T), run_lava(net, x, T, timeout_s=120)


def _assert_identical(net, engine, lava):
    window, neuron = _engine_summary(engine, net.n_populations)
    assert sum(int(w.sum()) for w in window) > 100, "the network must actually spike for this to mean much"
    for i in range(net.n_populations):
        np.testing.assert_array_equal(lava.window_counts[i], window[i], err_msg=f"population {i}")
        np.testing.assert_array_equal(lava.neuron_counts[i], neuron[i], err_msg=f"population {i}")
    np.testing.assert_array_equal(lava.output, engine.output)


def test_fixed_pt_equals_engine_spike_for_spike_with_subtractive_reset(fixed_subtract):
    net, _, engine, lava = fixed_subtract
    assert net.reset == "subtract" and net.readout == "membrane"
    _assert_identical(net, engine, lava)


def test_fixed_pt_equals_engine_with_lava_lifreset_and_count_readout(fixed_zero_counts):
    net, _, engine, lava = fixed_zero_counts
    assert net.reset == "zero" and net.readout == "counts" and net.n_populations == 2
    _assert_identical(net, engine, lava)


def test_fixed_point_lava_classifies_digits(fixed_subtract, trained):
    _, _, _, lava = fixed_subtract
    accuracy = np.mean(lava.predictions == trained[1].y_test[:N_SAMPLES])
    assert accuracy >= 0.9


def test_floating_pt_matches_float_reference_and_conversion_engine(float_run, trained):
    from conversion import engine

    snn, net, x, reference, lava = float_run
    window, neuron = _engine_summary(reference, net.n_populations)
    for i in range(net.n_populations):
        np.testing.assert_array_equal(lava.window_counts[i], window[i])
    np.testing.assert_allclose(lava.output, reference.output, rtol=1e-9, atol=1e-9)
    conv = engine.simulate(snn, x, [T], mode="float")[0]
    assert np.mean(conv.predictions == lava.predictions) >= 0.95
    conv_total = sum(float(v.sum()) for v in conv.spikes.values())
    lava_total = sum(float(w.sum()) for w in lava.window_counts)
    assert abs(lava_total - conv_total) <= 0.03 * conv_total


def test_successful_run_leaves_no_process_no_segment_and_no_folder(fixed_subtract):
    """After a run that succeeded: no child process, no /dev/shm segment of this process's runs (their
    names carry its pid, loihi_targets.runner), no job folder. Failure paths: test_lava_safety.py."""
    children = [p for p in psutil.Process().children(recursive=True) if p.is_running()
                and p.status() != psutil.STATUS_ZOMBIE]
    assert not [p for p in children if "lava_child" in " ".join(p.cmdline())]
    assert not [n for n in os.listdir("/dev/shm") if n.startswith(f"{runner.SEGMENT_TAG}{os.getpid()}_")]
    temp = tempfile.gettempdir()
    assert not [n for n in os.listdir(temp) if n.startswith(f"{runner.FOLDER_PREFIX}{os.getpid()}-")]


def test_lava_construction_failure_is_reported_with_its_message(fixed_subtract):
    net, x, *_ = fixed_subtract
    bad = dataclasses.replace(net.layers[0])
    object.__setattr__(bad, "bias_mant", bad.bias_mant[:-1])  # bypass validation: wrong length
    broken = dataclasses.replace(net, layers=(bad,) + net.layers[1:])
    with pytest.raises(SimulatorError, match="Lava run failed.*broadcast"):
        run_lava(broken, x[:3], T, timeout_s=60, validate=False)


def test_out_of_range_parameter_is_refused_before_any_process_starts(fixed_subtract, monkeypatch):
    net, x, *_ = fixed_subtract
    bad = dataclasses.replace(net, layers=(dataclasses.replace(net.layers[0], vth_mant=2 ** 20),)
                              + net.layers[1:])

    def no_child(*args, **kwargs):
        raise AssertionError("a Lava child was started for an invalid network")

    monkeypatch.setattr(runner.subprocess, "Popen", no_child)
    with pytest.raises(HardwareLimitError, match="vth_mant"):
        run_lava(bad, x[:3], T)
    x_nan = x[:3].copy()
    x_nan[0, 0] = np.nan
    with pytest.raises(Exception, match="NaN"):
        run_lava(net, x_nan, T)


def test_cli_loihi_writes_report_with_workloads(trained, tmp_path, cli):
    from conversion.importers.npz import write_npz_model

    model = write_npz_model(tmp_path / "mlp.npz", trained[0])
    out = tmp_path / "out"
    assert cli(["loihi", str(model), "--data", "digits", "--samples", "30", "--timesteps", "8",
                "--mode", "fixed", "--out", str(out)]) == 0
    report = json.loads((out / "loihi.json").read_text())
    assert report["spike_counts_equal"] is True and report["output_equal"] is True
    assert report["accuracy_lava"] == report["accuracy_engine"] >= 0.85
    assert report["cores_used"] >= 2 and report["intercore_spikes"] > 0
    workload = report["workloads"][0]
    assert workload["kind"] == "snn" and workload["timesteps"] == 8
    first, last = workload["layers"]
    assert first["analog_input"] and not last["analog_input"] and first["synaptic_events"] == 0
    assert first["spikes"] == pytest.approx(report["per_layer"][0]["spikes_per_sample_lava"])
    # events into the output layer: each hidden spike times its non-zero quantised synapses
    net = quantize(_convert(trained), T)
    synapses = (net.layers[1].weight_mant != 0).sum(axis=0)
    counts = np.asarray(report["per_layer"][0]["neuron_counts_lava"])
    assert counts.sum() / 30 == pytest.approx(first["spikes"])
    assert last["synaptic_events"] == pytest.approx(counts @ synapses / 30)
    assert first["fan_out"] == pytest.approx(synapses.mean())
    assert (out / "loihi_counts.png").stat().st_size > 1000


def test_cli_loihi_bad_input_exits_2_without_lava(tmp_path, cli, trained, monkeypatch, capsys):
    from conversion.importers.npz import write_npz_model

    model = write_npz_model(tmp_path / "mlp.npz", trained[0])
    data = tmp_path / "bad.npz"
    x = np.random.default_rng(0).random((20, 64))
    x[3, 5] = np.nan
    np.savez(data, x=x, y=np.arange(20) % 10)
    monkeypatch.setattr(runner.subprocess, "Popen", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    assert cli(["loihi", str(model), "--data", str(data), "--out", str(tmp_path / "o")]) == 2
    assert cli(["loihi", str(model), "--samples", "0", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "NaN" in err and "--samples" in err


def test_fixed_pt_equals_engine_with_signed_input_and_leak():
    from conversion.fixed_point.float_reference import FloatLayer, FloatNetwork
    from conversion.fixed_point.quantiser import quantize_network

    rng = np.random.default_rng(5)
    layers = (FloatLayer(name="h", weight=rng.normal(0, .3, (16, 20)), bias=rng.normal(.2, .1, 16), v_th=1.0,
                         dv=0.05),
              FloatLayer(name="o", weight=rng.normal(0, .3, (5, 16)), bias=np.zeros(5), v_th=1.0,
                         spiking=False))
    net = quantize_network(FloatNetwork(layers=layers, reset="subtract"), T, input_max=2.0, input_min=-2.0)
    assert net.signed_input and net.layers[0].dv == 205
    x = rng.normal(0, 0.8, (12, 20)).clip(-2, 2)
    _assert_identical(net, simulate_fixed(net, x, T), run_lava(net, x, T, timeout_s=120))
