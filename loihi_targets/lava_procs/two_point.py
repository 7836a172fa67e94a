r"""TwoPointUnit: the spiking two-point unit (:mod:`conversion.twopoint_unit`) as a Lava Process.

Two compartments per neuron: an apical integrator of the context input (port ``a_ctx``) whose running
mean indexes the gain table, and a basal/somatic integrator of the receptive-field input (port
``a_rf``) that fires the receptive-field spikes (``q_out``, the context carriers) and, through the gain
table, the somatic spikes (``s_out``). The step arithmetic is :func:`conversion.twopoint_unit.unit_step`
itself: the batched engine and both models run the same function, the ``floating_pt`` model on floats,
the ``fixed_pt`` model on integers (bit-exact with ``conversion.mcc_engine`` mode "fixed").

Samples run back to back in windows of ``window`` steps starting after ``offset`` steps (the layer's
depth + 1: each Lava ``Dense`` delays by one step); the state resets at each window's first step, and
the unit is idle before its first window. Lava has no two-compartment abstract model to subclass, so
both models derive from one base on ``PyLoihiProcessModel`` and differ only in number types.
"""

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from conversion.twopoint_unit import UnitParams, UnitState, reset_state, unit_step

_PARAMS = ("bias", "vth_q", "vth_s", "v_init_q", "v_init_s")


class TwoPointUnit(AbstractProcess):
    """A population of two-point units. bias, vth_q, vth_s, v_init_q, v_init_s: per neuron; gain: the
    gain table; reciprocal: rho[0..T-1]; ctx_shift: the fixed-point index shift (ignored by floating_pt)."""

    def __init__(self, *, shape: tuple, bias, vth_q, vth_s, v_init_q, v_init_s, gain, reciprocal,
                 window: int, offset: int, ctx_shift: int = 0, name: str | None = None) -> None:
        if window < 1 or offset < 0 or len(reciprocal) < window:
            raise ValueError(f"need window >= 1, offset >= 0 and len(reciprocal) >= window, got {window}, "
                             f"{offset}, {len(reciprocal)}")
        super().__init__(shape=shape, window=window, offset=offset, ctx_shift=int(ctx_shift), name=name)
        self.a_rf = InPort(shape=shape)
        self.a_ctx = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.q_out = OutPort(shape=shape)
        for state in ("u_r", "u_c", "o_q", "o_s"):
            setattr(self, state, Var(shape=shape, init=0))
        for key, value in zip(_PARAMS, (bias, vth_q, vth_s, v_init_q, v_init_s)):
            setattr(self, key, Var(shape=shape, init=np.broadcast_to(value, shape).copy()))
        self.gain = Var(shape=(len(gain),), init=np.asarray(gain))
        self.reciprocal = Var(shape=(len(reciprocal),), init=np.asarray(reciprocal))


class AbstractTwoPointUnitModel(PyLoihiProcessModel):
    """One step: window bookkeeping, then conversion.twopoint_unit.unit_step on the Vars."""

    fixed = False
    a_rf = None
    a_ctx = None
    s_out = None
    q_out = None

    def _params(self) -> UnitParams:
        return UnitParams(*(getattr(self, k) for k in _PARAMS), self.gain, self.reciprocal,
                          self.proc_params["ctx_shift"] if self.fixed else None)

    def run_spk(self) -> None:
        a_rf, a_ctx = self.a_rf.recv(), self.a_ctx.recv()
        k = self.time_step - 1 - self.proc_params["offset"]
        if k < 0:
            idle = np.zeros(self.u_r.shape)
            self.s_out.send(idle)
            self.q_out.send(idle)
            return
        t = k % self.proc_params["window"] + 1
        params = self._params()
        state = reset_state(params, self.u_r.shape) if t == 1 else UnitState(self.u_r, self.u_c, self.o_q,
                                                                                 self.o_s)
        new, q, s = unit_step(params, state, a_rf, a_ctx, t)
        self.u_r[:], self.u_c[:], self.o_q[:], self.o_s[:] = new.u_r, new.u_c, new.o_q, new.o_s
        self.s_out.send(s.astype(self.u_r.dtype))
        self.q_out.send(q.astype(self.u_r.dtype))


@implements(proc=TwoPointUnit, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyTwoPointUnitFloat(AbstractTwoPointUnitModel):
    a_rf: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_ctx: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    q_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    u_r: np.ndarray = LavaPyType(np.ndarray, float)
    u_c: np.ndarray = LavaPyType(np.ndarray, float)
    o_q: np.ndarray = LavaPyType(np.ndarray, float)
    o_s: np.ndarray = LavaPyType(np.ndarray, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    vth_q: np.ndarray = LavaPyType(np.ndarray, float)
    vth_s: np.ndarray = LavaPyType(np.ndarray, float)
    v_init_q: np.ndarray = LavaPyType(np.ndarray, float)
    v_init_s: np.ndarray = LavaPyType(np.ndarray, float)
    gain: np.ndarray = LavaPyType(np.ndarray, float)
    reciprocal: np.ndarray = LavaPyType(np.ndarray, float)


@implements(proc=TwoPointUnit, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyTwoPointUnitFixed(AbstractTwoPointUnitModel):
    fixed = True
    a_rf: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_ctx: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=1)
    q_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=1)
    u_r: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    u_c: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    o_q: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    o_s: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=16)
    vth_q: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=17)
    vth_s: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=17)
    v_init_q: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=17)
    v_init_s: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=17)
    gain: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=10)
    reciprocal: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=17)
