"""Cell parameter table, overrides and their errors, burst detection, determinism and the CLI's bad input."""

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from spiking_mcc.cells import protocols
from spiking_mcc.cells.bursts import count_events
from spiking_mcc.cells.params import PARAMETER_TABLE, magnitudes, make_params, parse_overrides
from spiking_mcc.errors import ParameterError

# The parameter table of docs/cells.md, in the units of its rows.
SPEC_TABLE = {"E_L": -70, "E_thr": -50, "tau_thr": 27, "tau_s": 16, "C_s": 370, "g_s": 1300, "b_ws": -200,
              "tau_ws": 100, "tau_d": 7, "C_d": 170, "g_d": 1200, "a_wd": -13, "tau_wd": 30, "c_d": 2600,
              "E_d": -38, "D": 6}


def test_parameter_table_mirrors_the_spec():
    values = magnitudes(make_params())
    for name, value in SPEC_TABLE.items():
        assert values[name] == value, name
    assert [row.name for row in PARAMETER_TABLE[: len(SPEC_TABLE)]] == list(SPEC_TABLE)


def test_override_accepts_quantities_and_strings():
    from brian2 import pF

    params = make_params({"C_s": 400 * pF, "tau_d": "9 ms"})
    assert float(params["C_s"] / pF) == pytest.approx(400)
    assert magnitudes(params)["tau_d"] == pytest.approx(9)
    from brian2 import mV

    assert float(parse_overrides(["D=5mV"])["D"] / mV) == pytest.approx(5)
    assert magnitudes(make_params())["D"] == 6  # the table itself is never modified


@pytest.mark.parametrize("overrides, fragment", [
    ({"C_x": "1 pF"}, "unknown cell parameter 'C_x'"),
    ({"C_s": 370}, "no unit"),
    ({"C_s": "370"}, "no unit"),
    ({"C_s": "370 mV"}, "wrong unit"),
    ({"g_s": "nan pA"}, "must be finite"),
    ({"tau_s": "-16 ms"}, "must be > 0"),
    ({"tau_d": "0 ms"}, "must be > 0"),
    ({"bap_width": "0 ms"}, "must be > 0"),
    ({"E_L": "-70 parsecs"}, "unknown unit"),
])
def test_bad_overrides_raise_parameter_errors_naming_the_parameter(overrides, fragment):
    with pytest.raises(ParameterError, match=fragment) as err:
        make_params(overrides)
    assert next(iter(overrides)) in str(err.value)


def test_bad_time_step_is_rejected_before_any_simulation():
    for dt_ms in (0.0, -0.1, float("nan"), 2.0):
        with pytest.raises(ParameterError, match="dt_ms"):
            protocols.run_cell_protocols(quick=True, dt_ms=dt_ms)


def test_protocols_leave_the_global_brian2_target_alone(monkeypatch):
    import brian2

    monkeypatch.setattr(protocols, "_run_all", lambda settings, params, target, *rest: {"target": target})
    previous = brian2.prefs.codegen.target
    try:
        brian2.prefs.codegen.target = "auto"
        assert protocols.run_cell_protocols(quick=True, target="numpy") == {"target": "numpy"}
        assert brian2.prefs.codegen.target == "auto"
    finally:
        brian2.prefs.codegen.target = previous


def test_bad_seed_is_rejected():
    with pytest.raises(ParameterError, match="seed"):
        protocols.run_cell_protocols(quick=True, seed=-3)


def test_event_detection_groups_spikes_within_16_ms():
    # cell 0: a burst of 3 (ISIs 5, 16 ms) then a single spike 17 ms later; cell 2: two singles; cell 1 silent
    cell = np.array([0, 0, 0, 0, 2, 2])
    time_ms = np.array([100.0, 105.0, 121.0, 138.0, 10.0, 40.0])
    order = np.array([3, 5, 0, 2, 4, 1])  # detection must not rely on input order
    counts = count_events(cell[order], time_ms[order], n_cells=3)
    assert counts.spikes.tolist() == [4, 0, 2]
    assert counts.events.tolist() == [2, 0, 2]
    assert counts.bursts.tolist() == [1, 0, 0]


@pytest.fixture
def numpy_target():
    """Brian2's numpy target for one test; the global preference is restored afterwards."""
    from spiking_mcc.brian_state import brian_state

    with brian_state(target="numpy"):
        yield


def test_parameter_override_reaches_the_model(numpy_target):
    # Without the dendritic Ca2+ current (g_d = 0) coincident input can no longer make a plateau or burst.
    settings = replace(protocols.QUICK, bac_offsets_ms=(0.0,))
    intact = protocols.run_bac(make_params(), settings, 0.1, seed=0)
    lesioned = protocols.run_bac(make_params({"g_d": "0 pA"}), settings, 0.1, seed=0)
    assert intact["bac"][0]["spikes"] >= 2 and intact["bac"][0]["max_vd_mv"] > -15
    assert lesioned["bac"][0]["spikes"] == 1 and lesioned["bac"][0]["max_vd_mv"] < -20


def test_noisy_protocol_is_reproducible_per_seed(numpy_target):
    settings = replace(protocols.QUICK, mux_trials=3, mux_duration_ms=1000.0)
    runs = [protocols.run_multiplexing(make_params(), settings, 0.1, seed)["multiplexing"]
            for seed in (1, 1, 2)]
    events = [[row["events"] for row in run] + [row["bursts"] for row in run] for run in runs]
    assert events[0] == events[1]
    assert events[0] != events[2]


@pytest.mark.parametrize("argv, fragment", [
    (["--param", "C_x=1pF"], "unknown cell parameter"),
    (["--param", "C_s=370"], "no unit"),
    (["--param", "tau_s=-5ms"], "must be > 0"),
    (["--param", "g_s=nanpA"], "must be finite"),
    (["--param", "C_s"], "NAME=VALUE_WITH_UNIT"),
    (["--dt-ms", "0"], "dt_ms"),
    (["--seed", "-1"], "--seed"),
])
def test_cli_bad_input_exits_2_with_one_line(cli, tmp_path, capsys, argv, fragment):
    assert cli(["cells", "--out", str(tmp_path / "out"), "--quick", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err, err
    assert not (tmp_path / "out" / "cells.json").exists()


def test_cli_bad_input_has_no_traceback_in_a_real_process(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "spiking_mcc.cli", "cells", "--out", str(tmp_path),
                           "--param", "tau_d=0ms"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "tau_d" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
