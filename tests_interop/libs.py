"""Run NIR graphs in snnTorch, Norse, sinabs and SpikingJelly (the Python 3.11 side of `make interop`).

Every runner takes a nir.NIRGraph, the inputs (N, *input_shape) as a float32 tensor and T, feeds the
same analog input at every step, and returns the per-sample sum over the steps of the graph's output
(spike counts or summed output currents): predictions are its argmax.
"""

from __future__ import annotations

import numpy as np
import torch


def _flattens_batch(graph) -> bool:
    """Norse and snnTorch hand NIR's Flatten start_dim (per sample: 0) to torch.nn.Flatten unshifted,
    which then flattens the batch too: such graphs run one sample at a time (torch accepts unbatched
    Conv2d/Linear inputs)."""
    import nir

    return any(isinstance(n, nir.Flatten) and n.start_dim == 0 for n in graph.nodes.values())


def _stepwise(module, x: torch.Tensor, steps: int, per_sample: bool, reset=lambda: None) -> np.ndarray:
    """Sum over `steps` of module(x, state) -> (out, state), batched or one sample at a time; reset()
    clears state a library keeps inside its modules (snnTorch) before each run."""
    if per_sample:
        return np.stack([_stepwise(module, sample, steps, False, reset) for sample in x])
    reset()
    total, state = 0.0, None
    with torch.no_grad():
        for _ in range(steps):
            out, state = module(x) if state is None else module(x, state)
            total = total + out
    return total.numpy()


def run_norse(graph, x: torch.Tensor, steps: int) -> np.ndarray:
    import norse.torch as norse

    module = norse.from_nir(graph, dt=1.0)  # r = 1: v += I per step; reset to v_reset (Norse's reset_value)
    return _stepwise(module, x, steps, _flattens_batch(graph))


def run_spikingjelly(graph, x: torch.Tensor, steps: int) -> np.ndarray:
    from spikingjelly.activation_based import functional
    from spikingjelly.activation_based.nir_exchange import from_nir

    module = from_nir.import_from_nir(graph, dt=1.0)  # IF needs r = 1/dt
    functional.reset_net(module)
    total, state = 0.0, None
    with torch.no_grad():
        for _ in range(steps):
            out, state = module(x, state=state)
            total = total + out
    return total.numpy()


def run_sinabs(graph, x: torch.Tensor, steps: int) -> np.ndarray:
    import sinabs
    from sinabs import from_nir

    module = from_nir(graph, batch_size=len(x))  # IAFSqueeze: input (batch * time, ...)
    sinabs.reset_states(module)
    with torch.no_grad():
        sequence = x.unsqueeze(1).expand(len(x), steps, *x.shape[1:]).reshape(len(x) * steps, *x.shape[1:])
        out, _ = module(sequence)
    return out.reshape(len(x), steps, -1).sum(dim=1).numpy()


def run_snntorch(graph, x: torch.Tensor, steps: int) -> np.ndarray:
    from snntorch.import_nir import import_from_nir

    module = import_from_nir(graph)  # LIF: beta = 1 - 1e-4 / tau, reset to zero

    def reset():  # snnTorch neurons keep their membrane inside the module
        for sub in module.modules():
            if hasattr(sub, "reset_mem"):
                sub.reset_mem()

    return _stepwise(module, x, steps, _flattens_batch(graph), reset)


RUNNERS = {"snntorch": run_snntorch, "norse": run_norse, "sinabs": run_sinabs,
           "spikingjelly": run_spikingjelly}
