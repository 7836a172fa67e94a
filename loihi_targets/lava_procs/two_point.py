r"""TwoPointLIF: a two-compartment (two-point) neuron whose apical potential modulates somatic drive.

Per time step, with receptive-field input :math:`a_R` (port ``a_rf``) and context input :math:`a_C`
(port ``a_ctx``):

.. math::

    v_a[t] &= (1 - d_a)\, v_a[t-1] + a_C[t]                          && \text{apical: leaky context}\\
    g[t]   &= \mathrm{clip}\big(1 + v_a[t] / v_{ref},\; g_{min},\; g_{max}\big)
                                                                     && \text{apical gain}\\
    v_s[t] &= (1 - d_s)\, v_s[t-1] + g[t]\, a_R[t] + b               && \text{soma}\\
    z[t]   &= v_s[t] > v_{th}, \quad v_s \leftarrow 0 \text{ at a spike}

Coherent context (:math:`v_a > 0`) amplifies the feed-forward drive up to :math:`g_{max}`, opposing
context attenuates it down to :math:`g_{min}` (0.5 by default, the :math:`k_1` floor of Kay &
Phillips' law), zero context leaves a point LIF; context alone never fires the cell (:math:`g a_R = 0`
when :math:`a_R = 0`). Fixed point (Loihi-style integers): inputs are MSB-aligned by 6 bits, decays
are 12-bit (:math:`d \cdot 4096`), the gain is a Q8 number (256 = 1), products are arithmetic right
shifts, v_s and v_a saturate at 24 bits, and the threshold is compared as :math:`v_{th} \ll 6`.
The float and fixed models share one base and override only the arithmetic.
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


class TwoPointLIF(AbstractProcess):
    """Two-compartment neuron population. Parameters in float units for the floating_pt model, in
    Loihi integers (d_s, d_a 12-bit; vth 17-bit mantissa; v_ref in membrane units >> 6) for fixed_pt.
    g_min, g_max are plain numbers for both."""

    def __init__(self, *, shape: tuple, d_s=0, d_a=0, bias=0, vth=1, v_ref=1, g_min: float = 0.5,
                 g_max: float = 2.0, name: str | None = None) -> None:
        if not 0 <= g_min <= 1 <= g_max:
            raise ValueError(f"need 0 <= g_min <= 1 <= g_max, got {g_min}, {g_max}")
        super().__init__(shape=shape, name=name, g_min=g_min, g_max=g_max)  # -> self.proc_params
        self.a_rf = InPort(shape=shape)
        self.a_ctx = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.v_s = Var(shape=shape, init=0)
        self.v_a = Var(shape=shape, init=0)
        self.d_s = Var(shape=(1,), init=d_s)
        self.d_a = Var(shape=(1,), init=d_a)
        self.bias = Var(shape=shape, init=bias)
        self.vth = Var(shape=(1,), init=vth)
        self.v_ref = Var(shape=(1,), init=v_ref)


class AbstractTwoPointModel(PyLoihiProcessModel):
    """Order of one step, common to both models: apical, gain, soma, spike, reset."""

    a_rf = None
    a_ctx = None
    s_out = None

    def apical_dynamics(self, a_ctx: np.ndarray) -> None:
        raise NotImplementedError

    def gain(self) -> np.ndarray:
        raise NotImplementedError

    def somatic_dynamics(self, a_rf: np.ndarray, gain: np.ndarray) -> None:
        raise NotImplementedError

    def spiking_activation(self) -> np.ndarray:
        raise NotImplementedError

    def run_spk(self) -> None:
        a_rf = self.a_rf.recv()
        a_ctx = self.a_ctx.recv()
        self.apical_dynamics(a_ctx)
        self.somatic_dynamics(a_rf, self.gain())
        spikes = self.spiking_activation()
        self.v_s[spikes] = 0
        self.s_out.send(spikes)


@implements(proc=TwoPointLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyTwoPointModelFloat(AbstractTwoPointModel):
    a_rf: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_ctx: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    v_s: np.ndarray = LavaPyType(np.ndarray, float)
    v_a: np.ndarray = LavaPyType(np.ndarray, float)
    d_s: float = LavaPyType(float, float)
    d_a: float = LavaPyType(float, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    vth: float = LavaPyType(float, float)
    v_ref: float = LavaPyType(float, float)

    def apical_dynamics(self, a_ctx: np.ndarray) -> None:
        self.v_a[:] = self.v_a * (1 - self.d_a) + a_ctx

    def gain(self) -> np.ndarray:
        return np.clip(1 + self.v_a / self.v_ref, self.proc_params["g_min"], self.proc_params["g_max"])

    def somatic_dynamics(self, a_rf: np.ndarray, gain: np.ndarray) -> None:
        self.v_s[:] = self.v_s * (1 - self.d_s) + gain * a_rf + self.bias

    def spiking_activation(self) -> np.ndarray:
        return self.v_s > self.vth


@implements(proc=TwoPointLIF, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyTwoPointModelFixed(AbstractTwoPointModel):
    a_rf: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=16)
    a_ctx: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=16)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=1)
    v_s: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    v_a: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    d_s: int = LavaPyType(int, np.uint16, precision=12)
    d_a: int = LavaPyType(int, np.uint16, precision=12)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    vth: int = LavaPyType(int, np.int32, precision=17)
    v_ref: int = LavaPyType(int, np.int32, precision=17)

    act_shift = 6        # synaptic input MSB alignment (Loihi)
    decay_shift = 12     # 12-bit decay constants
    gain_shift = 8       # Q8 gain
    uv_limit = 2 ** 23 - 1

    def _decay(self, state: np.ndarray, d: int) -> np.ndarray:
        prod = state.astype(np.int64) * ((1 << self.decay_shift) - int(d))
        return np.sign(prod) * np.right_shift(np.abs(prod), self.decay_shift)

    def apical_dynamics(self, a_ctx: np.ndarray) -> None:
        v_a = self._decay(self.v_a, self.d_a) + np.left_shift(a_ctx.astype(np.int64), self.act_shift)
        self.v_a[:] = np.clip(v_a, -self.uv_limit, self.uv_limit)

    def gain(self) -> np.ndarray:
        unity = 1 << self.gain_shift
        ratio = (self.v_a.astype(np.int64) << self.gain_shift) // (int(self.v_ref) << self.act_shift)
        low = int(round(self.proc_params["g_min"] * unity))
        high = int(round(self.proc_params["g_max"] * unity))
        return np.clip(unity + ratio, low, high)

    def somatic_dynamics(self, a_rf: np.ndarray, gain: np.ndarray) -> None:
        drive = np.right_shift(np.left_shift(a_rf.astype(np.int64), self.act_shift) * gain, self.gain_shift)
        v_s = self._decay(self.v_s, self.d_s) + drive + self.bias
        self.v_s[:] = np.clip(v_s, -self.uv_limit, self.uv_limit)

    def spiking_activation(self) -> np.ndarray:
        return self.v_s > (int(self.vth) << self.act_shift)
