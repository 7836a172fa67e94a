"""LIFResetSubtract: Lava's LIFReset with reset by subtraction and a chosen membrane after reset.

ANN-to-SNN conversion keeps the residual charge at a spike (v <- v - v_th), which Lava's LIF
(v <- 0) loses. Periodic reset (every `reset_interval` steps at phase `reset_offset`) sets u <- 0 and
v <- v_init. The two models derive from Lava's own abstract LIF models (``AbstractPyLifModelFloat``,
``AbstractPyLifModelFixed``: the sub-threshold dynamics, bias scaling and bit widths), on one shared
base that holds the periodic reset and the subtraction; they differ only in the threshold's units
(``vth`` in floating point, ``vth << 6`` in fixed point, as Lava's LIFReset models).
"""

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.ports import PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import AbstractPyLifModelFixed, AbstractPyLifModelFloat
from lava.proc.lif.process import LIFReset


class LIFResetSubtract(LIFReset):
    """LIFReset whose spike reset subtracts the threshold; v_init: membrane after each periodic reset
    (same units as v)."""

    def __init__(self, *, v_init: float = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.proc_params["v_init"] = v_init


class _PeriodicResetSubtract:
    """Shared by both models: at the window's first step u <- 0 and v <- v_init, then Lava's
    sub-threshold dynamics, spike where v > threshold, v <- v - threshold."""

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self.reset_interval = proc_params["reset_interval"]
        self.reset_offset = proc_params["reset_offset"] % self.reset_interval

    def threshold(self):
        raise NotImplementedError

    def prepare(self) -> None:
        """Per-step scaling before the dynamics (fixed point: bias and threshold shifts)."""

    def spiking_activation(self) -> np.ndarray:
        return self.v > self.threshold()

    def reset_voltage(self, spike_vector: np.ndarray) -> None:
        self.v[spike_vector] -= self.threshold()

    def run_spk(self) -> None:
        a_in_data = self.a_in.recv()
        if (self.time_step % self.reset_interval) == self.reset_offset:
            self.u[:] = 0
            self.v[:] = self.proc_params["v_init"]
        self.prepare()
        self.subthr_dynamics(activation_in=a_in_data)
        s_out = self.spiking_activation()
        self.reset_voltage(spike_vector=s_out)
        self.s_out.send(s_out)


@implements(proc=LIFResetSubtract, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyLifResetSubtractFloat(_PeriodicResetSubtract, AbstractPyLifModelFloat):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    vth: float = LavaPyType(float, float)

    def threshold(self) -> float:
        return self.vth


@implements(proc=LIFResetSubtract, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyLifResetSubtractBitAcc(_PeriodicResetSubtract, AbstractPyLifModelFixed):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)

    def prepare(self) -> None:
        self.scale_bias()

    def threshold(self) -> int:
        return int(self.vth) << self.vth_shift
