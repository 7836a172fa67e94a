r"""Stage 3 of Datta & Beerel 2022: fine-tune the converted SNN with surrogate gradients through time.

The forward pass is :mod:`conversion.engine`'s float simulation of a :class:`~conversion.ir.SpikingNetwork`
with analog input, membrane readout and reset by subtraction, step for step: the nodes before the first
ReLU see the constant input (computed once, their current enters every step); each ReLU population p
integrates :math:`V_t = (1 - \ell) V_{t-1} + I_t` from :math:`V_0 = f\,\theta_p`, spikes
:math:`s_t = H(V_t - \theta_p)`, resets :math:`V_t \mathrel{-}= s_t \theta_p` and sends :math:`\beta_p s_t`;
the readout is the output layer's current summed over the T steps. The loss is the softmax cross-entropy
of the mean readout.

Backpropagation through time runs over the T steps with the surrogate derivative
:math:`\partial s / \partial V = k\,\sigma'(k (V/\theta - 1)) / \theta` (a logistic bump of width
~theta/k; :math:`\partial s / \partial \theta = -k\,\sigma' V / \theta^2`), through the reset and the
leak. Trained: weights and biases, every population's threshold :math:`\theta_p` (one per layer, or per
channel when the conversion fitted per channel) and the leak :math:`\ell`, one per network because the
engine, NIR and the Loihi targets carry a single leak. With ``smooth=True`` the forward pass itself uses
:math:`s = \sigma(k (V/\theta - 1))`, so the analytic gradients can be checked against finite differences.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from conversion import ops
from conversion.ir import AvgPool2d, Conv2d, Dense, Flatten, Graph, ReLU, SpikingNetwork
from conversion.reference_models import backward_node
from spiking_mcc.errors import ModelError
from spiking_mcc.nn_math import softmax_cross_entropy
from spiking_mcc.optim import Adam

SURROGATE_STEEPNESS = 4.0  # k: peak slope 1/theta, i.e. the surrogate bump spans about +-theta
MAX_LEAK = 0.95


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning settings: a few epochs of Adam (measured on digits, 3 seeds: docs/lowlatency.md)."""

    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 2e-3
    threshold_learning_rate: float = 1e-2
    train_leak: bool = True
    steepness: float = SURROGATE_STEEPNESS


def check_finetunable(net: SpikingNetwork) -> None:
    """The fine-tuner runs chains of Dense/Conv2d/AvgPool2d/Flatten/ReLU, analog input, membrane readout,
    reset by subtraction: anything else gets a ModelError naming it."""
    graph = net.graph
    if not graph.is_chain():
        raise ModelError("fine-tuning needs a single chain of layers")
    for name in graph.order:
        if not isinstance(graph.nodes[name], (Dense, Conv2d, AvgPool2d, Flatten, ReLU)):
            kind = type(graph.nodes[name]).__name__
            raise ModelError(f"layer '{name}': fine-tuning does not support {kind}")
    for key, value, wanted in (("encoding", net.encoding, "analog"), ("readout", net.readout, "membrane"),
                               ("reset", net.reset, "subtract")):
        if value != wanted:
            raise ModelError(f"fine-tuning needs {key} '{wanted}', got '{value}'")


def _split(graph: Graph) -> tuple[list[str], list[str]]:
    """(nodes before the first ReLU, which see only the constant input; the rest, run every step)."""
    order = list(graph.order)
    first = next(i for i, n in enumerate(order) if isinstance(graph.nodes[n], ReLU))
    return order[:first], order[first:]


def _spike(v: np.ndarray, theta: np.ndarray, k: float, smooth: bool):
    """(spikes, ds/dv, ds/dtheta) with the logistic surrogate."""
    sig = 1.0 / (1.0 + np.exp(-np.clip(k * (v / theta - 1.0), -60, 60)))
    bump = k * sig * (1.0 - sig)
    spikes = sig if smooth else (v > theta).astype(v.dtype)  # the engines' rule (docs/conversion.md)
    return spikes, bump / theta, -bump * v / (theta * theta)


def _sum_to(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a (N, *population) gradient to a parameter of broadcastable `shape`."""
    grad = grad.sum(axis=0)
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def forward_backward(net: SpikingNetwork, x: np.ndarray, y: np.ndarray | None, timesteps: int,
                     steepness: float = SURROGATE_STEEPNESS, smooth: bool = False
                     ) -> tuple[np.ndarray, float, dict[str, np.ndarray]]:
    """(mean readout (N, classes), loss, gradients) of the T-step SNN on a batch. Gradient keys:
    "{layer}.weight", "{layer}.bias", "{population}.v_th", "leak". With y None: no loss, no gradients."""
    graph = net.graph
    constant, dynamic = _split(graph)
    x = ops.check_input(graph, x)
    n = len(x)
    base = {next(iter(graph.inputs)): x}
    for name in constant:
        base[name] = ops.apply_linear(graph, name, base)
    pops = [p for p in dynamic if isinstance(graph.nodes[p], ReLU)]
    f, leak = net.init_membrane_fraction, net.leak
    theta = {p: net.v_th[p] for p in pops}
    beta = {p: net.output_scale[p] for p in pops}
    v = {p: np.broadcast_to(f * theta[p], (n,) + graph.shapes[p]).copy() for p in pops}
    readout = 0.0
    tape = []
    for _ in range(timesteps):
        values = dict(base)
        record = {}
        for name in dynamic:
            if name in pops:
                v_prev = v[name]
                v_pre = (1.0 - leak) * v_prev + values[graph.predecessors(name)[0]]
                spikes, ds_dv, ds_dth = _spike(v_pre, theta[name], steepness, smooth)
                v[name] = v_pre - spikes * theta[name]
                values[name] = spikes * beta[name]
                record[name] = (v_prev, spikes, ds_dv, ds_dth)
            else:
                values[name] = ops.apply_linear(graph, name, values)
        readout = readout + values[graph.outputs[0]]
        tape.append((values, record))
    mean = readout / timesteps
    if y is None:
        return mean, float("nan"), {}
    loss, g_mean = softmax_cross_entropy(mean, y)
    g_mean /= n
    grads = _backward_through_time(graph, constant, dynamic, pops, base, tape, theta, beta, leak, f,
                                   g_mean / timesteps)
    return mean, loss, grads


def _backward_through_time(graph, constant, dynamic, pops, base, tape, theta, beta, leak, f, g_step):
    grads: dict[str, np.ndarray] = {}

    def add(key, value):
        grads[key] = grads[key] + value if key in grads else value

    g_v = {p: 0.0 for p in pops}
    g_th = {p: np.zeros(np.shape(theta[p])) for p in pops}
    g_leak = 0.0
    g_constant = 0.0
    for values, record in reversed(tape):
        g = {graph.outputs[0]: g_step}
        for name in reversed(dynamic):
            grad = g.pop(name)
            source = graph.predecessors(name)[0]
            if name in pops:
                v_prev, spikes, ds_dv, ds_dth = record[name]
                g_s = grad * beta[name] - g_v[name] * theta[name]
                g_th[name] = g_th[name] + _sum_to(g_s * ds_dth - g_v[name] * spikes, np.shape(theta[name]))
                g_pre = g_v[name] + g_s * ds_dv
                g_leak -= float(np.sum(g_pre * v_prev))
                g_v[name] = g_pre * (1.0 - leak)
                grad_in = g_pre
            else:
                grad_in, params = backward_node(graph, name, values[source], grad)
                if params is not None:
                    add(f"{name}.weight", params[0])
                    add(f"{name}.bias", params[1])
            if source in base:
                g_constant = g_constant + grad_in
            else:
                g[source] = grad_in
    for p in pops:  # V_0 = f theta
        grads[f"{p}.v_th"] = g_th[p] + f * _sum_to(np.asarray(g_v[p]) * np.ones((1,) + graph.shapes[p]),
                                                  np.shape(theta[p]))
    grads["leak"] = np.array(g_leak)
    grad = g_constant
    for name in reversed(constant):
        grad, params = backward_node(graph, name, base[graph.predecessors(name)[0]], grad)
        if params is not None:
            add(f"{name}.weight", params[0])
            add(f"{name}.bias", params[1])
    return grads


def parameters(net: SpikingNetwork) -> dict[str, np.ndarray]:
    """The trainable arrays of `net`, by gradient key (the network's own arrays: updates act in place)."""
    params = {}
    for layer in net.graph.weighted_layers():
        params[f"{layer}.weight"] = net.graph.nodes[layer].weight
        params[f"{layer}.bias"] = net.graph.nodes[layer].bias
    for p in net.graph.populations():
        params[f"{p}.v_th"] = net.v_th[p]
    params["leak"] = np.array(net.leak, dtype=np.float64)
    return params


def finetune(net: SpikingNetwork, x: np.ndarray, y: np.ndarray, timesteps: int, seed: int = 0,
             config: FinetuneConfig = FinetuneConfig()) -> SpikingNetwork:
    """A fine-tuned copy of `net` for T = timesteps (the input network is left unchanged)."""
    check_finetunable(net)
    net = copy.deepcopy(net)
    for p in net.graph.populations():
        net.v_th[p] = np.array(net.v_th[p], dtype=np.float64)
    x = ops.check_input(net.graph, x, "fine-tuning data")
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    params = parameters(net)
    if not config.train_leak:
        params.pop("leak")
    floors = {p: 1e-3 * np.max(net.v_th[p]) for p in net.graph.populations()}
    weights = Adam({k: v for k, v in params.items() if not k.endswith(".v_th") and k != "leak"},
                   config.learning_rate)
    neuron = Adam({k: v for k, v in params.items() if k.endswith(".v_th") or k == "leak"},
                  config.threshold_learning_rate)
    for _ in range(config.epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), config.batch_size):
            idx = order[start:start + config.batch_size]
            _, _, grads = forward_backward(net, x[idx], y[idx], timesteps, config.steepness)
            weights.step(params, {k: grads[k] for k in weights.m})
            neuron.step(params, {k: grads[k] for k in neuron.m})
            for p in net.graph.populations():
                np.maximum(net.v_th[p], floors[p], out=net.v_th[p])
            if config.train_leak:
                params["leak"] = np.clip(params["leak"], 0.0, MAX_LEAK)
                net.leak = float(params["leak"])
    return SpikingNetwork(net.graph, net.v_th, net.output_scale, reset=net.reset, leak=net.leak,
                          init_membrane_fraction=net.init_membrane_fraction, encoding=net.encoding,
                          readout=net.readout, input_scale=net.input_scale, output_v_th=net.output_v_th,
                          threshold_method="finetuned")


def predict(net: SpikingNetwork, x: np.ndarray, timesteps: int, batch_size: int = 512) -> np.ndarray:
    """Class predictions of the fine-tuner's own forward pass (the engine's, for tests)."""
    out = [forward_backward(net, x[i:i + batch_size], None, timesteps)[0].argmax(axis=1)
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out)
