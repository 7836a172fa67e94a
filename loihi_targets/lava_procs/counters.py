"""Sink Processes that count per readout window, so a run over many samples reads back only counters.

A run concatenates samples in windows of `window` steps; window k of a sink covers time steps
offset + k * window + 1 ... offset + (k + 1) * window (Lava's time_step starts at 1). Steps outside
every window (pipeline fill at the start) are ignored.
"""

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol


class _WindowedSink(AbstractProcess):
    def __init__(self, *, shape: tuple, num_windows: int, window: int, offset: int, **kwargs) -> None:
        if num_windows < 1 or window < 1 or offset < 0:
            raise ValueError(f"num_windows, window must be >= 1 and offset >= 0, got "
                             f"{num_windows}, {window}, {offset}")
        # keyword arguments become self.proc_params, which the ProcessModels read
        super().__init__(shape=shape, num_windows=num_windows, window=window, offset=offset, **kwargs)


class SpikeCounter(_WindowedSink):
    """Counts the spikes arriving at `s_in` per window.

    counts: (num_windows, n) spikes per window and neuron if per_neuron, else (num_windows, 1) totals;
    neuron_counts: (n,) spikes per neuron over all windows.
    """

    def __init__(self, *, shape: tuple, num_windows: int, window: int, offset: int,
                 per_neuron: bool = False, name: str | None = None) -> None:
        super().__init__(shape=shape, num_windows=num_windows, window=window, offset=offset, name=name)
        columns = int(np.prod(shape)) if per_neuron else 1
        self.s_in = InPort(shape=shape)
        self.counts = Var(shape=(num_windows, columns), init=0)
        self.neuron_counts = Var(shape=shape, init=0)


class WindowAccumulator(_WindowedSink):
    """Accumulates the synaptic input at `a_in` plus a bias per window: the membrane of a non-spiking,
    non-leaky output layer (readout "membrane"). Fixed point: sum of (a << 6) + bias, as Lava's LIF
    adds them to v; floating point: sum of a + bias.

    totals: (num_windows, n).
    """

    def __init__(self, *, shape: tuple, num_windows: int, window: int, offset: int, bias=0,
                 name: str | None = None) -> None:
        super().__init__(shape=shape, num_windows=num_windows, window=window, offset=offset, name=name)
        self.a_in = InPort(shape=shape)
        self.bias = Var(shape=shape, init=bias)
        self.totals = Var(shape=(num_windows,) + tuple(shape), init=0)


class _WindowMixin:
    def window_index(self) -> int:
        """Index of the window the current time step belongs to, or -1."""
        k = (self.time_step - 1 - self.proc_params["offset"]) // self.proc_params["window"]
        return k if 0 <= k < self.proc_params["num_windows"] else -1


@implements(proc=SpikeCounter, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt", "fixed_pt")
class PySpikeCounterModel(_WindowMixin, PyLoihiProcessModel):
    """Same model for both tags: spikes are counts whatever their number type."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    counts: np.ndarray = LavaPyType(np.ndarray, np.int64)
    neuron_counts: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def run_spk(self) -> None:
        spikes = self.s_in.recv() != 0
        k = self.window_index()
        if k < 0:
            return
        if self.counts.shape[1] == 1:
            self.counts[k, 0] += int(spikes.sum())
        else:
            self.counts[k] += spikes.ravel()
        self.neuron_counts += spikes


class AbstractWindowAccumulatorModel(_WindowMixin, PyLoihiProcessModel):
    """Shared behaviour; subclasses say how one step's input becomes membrane units (`drive`)."""

    a_in = None
    bias = None
    totals = None

    def drive(self, activation: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def run_spk(self) -> None:
        activation = self.a_in.recv()
        k = self.window_index()
        if k >= 0:
            self.totals[k] += self.drive(activation)


@implements(proc=WindowAccumulator, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyWindowAccumulatorFloat(AbstractWindowAccumulatorModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    totals: np.ndarray = LavaPyType(np.ndarray, float)

    def drive(self, activation: np.ndarray) -> np.ndarray:
        return activation + self.bias


@implements(proc=WindowAccumulator, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyWindowAccumulatorFixed(AbstractWindowAccumulatorModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int64)
    totals: np.ndarray = LavaPyType(np.ndarray, np.int64)
    act_shift = 6  # Loihi MSB-aligns synaptic input by 6 bits (lava/proc/lif/models.py)

    def drive(self, activation: np.ndarray) -> np.ndarray:
        return np.left_shift(activation.astype(np.int64), self.act_shift) + self.bias
