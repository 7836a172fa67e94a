"""LIFResetSubtract: Lava's LIFReset with reset by subtraction and a chosen membrane after reset.

ANN-to-SNN conversion keeps the residual charge at a spike (v <- v - v_th), which Lava's LIF
(v <- 0) loses. Periodic reset (every `reset_interval` steps at phase `reset_offset`) sets u <- 0 and
v <- v_init. The models subclass Lava's own LIFReset models and override only the reset.
"""

import numpy as np
from lava.magma.core.decorator import implements
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.lif.models import PyLifResetModelBitAcc, PyLifResetModelFloat
from lava.proc.lif.process import LIFReset


class LIFResetSubtract(LIFReset):
    """LIFReset whose spike reset subtracts the threshold; v_init: membrane after each periodic reset
    (same units as v)."""

    def __init__(self, *, v_init: float = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.proc_params["v_init"] = v_init


class _SubtractResetMixin:
    """Shared by both models: the membrane starts each window at v_init (LIFReset has just zeroed it)."""

    def subthr_dynamics(self, activation_in: np.ndarray) -> None:
        if (self.time_step % self.reset_interval) == self.reset_offset:
            self.v[:] = self.proc_params["v_init"]
        super().subthr_dynamics(activation_in)


# The parents already implement LIFReset; clearing `implements_process` lets @implements re-target the
# subclass. Resources and tags ("floating_pt" / "fixed_pt", "bit_accurate_loihi") are inherited.
@implements(proc=LIFResetSubtract, protocol=LoihiProtocol)
class PyLifResetSubtractFloat(_SubtractResetMixin, PyLifResetModelFloat):
    implements_process = None

    def reset_voltage(self, spike_vector: np.ndarray) -> None:
        self.v[spike_vector] -= self.vth


@implements(proc=LIFResetSubtract, protocol=LoihiProtocol)
class PyLifResetSubtractBitAcc(_SubtractResetMixin, PyLifResetModelBitAcc):
    implements_process = None

    def reset_voltage(self, spike_vector: np.ndarray) -> None:
        self.v[spike_vector] -= self.effective_vth
