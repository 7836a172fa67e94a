"""`two_point_cells` as a Brian2 building block (docs/cells.md): per-neuron parameters, unique names,
Quantity inputs with clear errors, synaptic inputs into soma and dendrite; and Brian2 state hygiene."""

import brian2 as b2
import numpy as np
import pytest
from brian2 import Network, SpikeGeneratorGroup, StateMonitor, Synapses, ms, mV, nS, pA

from spiking_mcc.brian_state import brian_state
from spiking_mcc.cells.model import set_conditions, two_point_cells
from spiking_mcc.cells.params import make_params
from spiking_mcc.errors import ParameterError


@pytest.fixture(autouse=True)
def numpy_target():
    with brian_state(target="numpy"):
        yield


def test_defaults_are_the_parameter_table_and_chosen_parameters_are_per_neuron():
    group = two_point_cells(2, heterogeneous=("tau_d",))
    assert "tau_d" not in group.namespace and float(group.namespace["C_d"] / b2.pF) == 170
    np.testing.assert_allclose(group.tau_d[:] / ms, [7, 7])
    group.tau_d = [7, 14] * ms
    set_conditions(group, {"I_d_tonic": 100 * pA})
    Network(group).run(3 * ms)
    # dv_d/dt = -(v_d - E_L)/tau_d + I_d/C_d: the slower-leaking dendrite depolarises further
    depolarisation = (group.v_d[:] - make_params()["E_L"]) / mV
    assert depolarisation[1] > depolarisation[0] > 0.5


def test_two_default_groups_fit_one_network():
    first, second = two_point_cells(3), two_point_cells(3, noise=150 * pA)
    assert first.name != second.name
    Network(first, second).run(1 * ms)
    assert np.all(np.asarray(second.n_s[:]) != 0) and np.all(np.asarray(first.n_s[:]) == 0)


def test_inputs_are_quantities_and_bad_ones_name_what_is_allowed():
    group = two_point_cells(2, dt=0.05 * ms)
    assert float(group.clock.dt / ms) == pytest.approx(0.05)
    set_conditions(group, {"I_s_tonic": 400 * pA, "sigma_d": [10, 20] * pA})
    np.testing.assert_allclose(group.I_s_tonic[:] / pA, [400, 400])
    with pytest.raises(ParameterError, match="unknown input 'I_x'.*allowed: I_s_tonic, I_d_tonic"):
        set_conditions(group, {"I_x": 1 * pA})
    with pytest.raises(ParameterError, match="I_s_tonic needs a Quantity in pA"):
        set_conditions(group, {"I_s_tonic": 400})
    with pytest.raises(ParameterError, match="dt"):
        two_point_cells(2, dt=0.1)
    with pytest.raises(ParameterError, match="dt.*0.5"):
        two_point_cells(2, dt=2 * ms)
    with pytest.raises(ParameterError, match="heterogeneous.*'tau_x'"):
        two_point_cells(2, heterogeneous=("tau_x",))
    with pytest.raises(ParameterError, match="noise"):
        two_point_cells(2, noise=150)


def test_synapses_drive_soma_and_dendrite_currents_and_conductances():
    cells = two_point_cells(4, name="targets")
    source = SpikeGeneratorGroup(1, [0], [1] * ms)
    wiring = {0: "I_syn_d += 200*pA", 1: "g_exc_s += 5*nS", 2: "g_inh_d += 5*nS", 3: "I_syn_s += 200*pA"}
    synapses = [Synapses(source, cells, on_pre=code, name=f"syn_{post}") for post, code in wiring.items()]
    for post, syn in enumerate(synapses):
        syn.connect(i=0, j=post)
    trace = StateMonitor(cells, ["v_s", "v_d", "I_syn_d", "g_exc_s"], record=True, dt=0.1 * ms)
    Network(cells, source, *synapses, trace).run(15 * ms)
    t = trace.t / ms
    after = np.argmin(np.abs(t - 6.0))  # one tau_syn (5 ms) after the spike at 1 ms (+1 step)
    assert float(trace.I_syn_d[0, after] / pA) == pytest.approx(200 * np.exp(-1), rel=0.05)
    assert float(trace.g_exc_s[1, after] / nS) == pytest.approx(5 * np.exp(-1), rel=0.05)
    rest = -70.0
    assert trace.v_d[0].max() / mV > rest + 1.0  # current into the dendrite depolarises it
    assert trace.v_s[1].max() / mV > rest + 1.0  # excitatory conductance (E_exc = 0 mV) on the soma
    assert trace.v_d[2].min() / mV < rest - 0.5  # inhibitory conductance (E_inh = -80 mV) hyperpolarises
    assert trace.v_s[3].max() / mV > rest + 0.5 and abs(trace.v_d[3].max() / mV - rest) < 0.5


def test_library_runs_leave_the_users_brian2_session_unchanged():
    from conversion import brian_engine
    from conversion.ir import Dense, Graph, ReLU, SpikingNetwork
    from spiking_mcc.cells.population import PopulationSettings, run_population

    graph = Graph.sequential((3,), [Dense(np.ones((2, 3)), np.zeros(2)), ReLU(), Dense(np.ones((2, 2)),
                                                                                        np.zeros(2))])
    net = SpikingNetwork(graph, {"relu": np.array(1.0)}, {"relu": np.array(1.0)})
    b2.prefs.codegen.target = "auto"
    b2.defaultclock.dt = 0.2 * ms
    np.random.seed(1234)
    state = np.random.get_state()
    tiny = PopulationSettings(n_cells=10, duration_ms=800.0, warmup_ms=100.0)
    run_population(tiny, seed=5, target="numpy")
    brian_engine.simulate_brian2(net, np.ones((2, 3)), 4, codegen_target="numpy")
    assert b2.prefs.codegen.target == "auto"
    assert float(b2.defaultclock.dt / ms) == pytest.approx(0.2)
    after = np.random.get_state()
    assert after[0] == state[0] and np.array_equal(after[1], state[1]) and after[2:] == state[2:]
