"""MCC network of two-point units and the point-neuron baseline: parameters, forward, backward, files.

Architecture (docs/mcc.md). Two streams, audio (a) and visual (v), each of L hidden layers
of the same sizes `hidden`; inputs are standardised, x' = (x - mean) / std (fitted on training data).
Layer l of stream s (o is the other stream), batch-first, h^{-1} = the stream's input x':

    R_s = h_s^{l-1} W_R^T + b                     receptive field, own stream (feed-forward)
    S_s = the context source (see below)
    u   = [mean_j S_a, mean_j S_v]                universal context: summary of the sources
    C_s = S_s (W_P * M_P)^T                       proximal: own stream
        + S_o (W_D * M_D)^T                       distal: the other stream
        + u W_U^T                                 universal
    A_s = law(R_s, C_s)                           spiking_mcc.twopoint.transfer
    h_s = relu(A_s) * mask_s                      output; `mask` silences damaged units (all ones)

Context source (`context_source`):
- `broadcast`: S_s = relu(R_s) * mask_s of the same layer, an extra signal every unit sends to its
  lateral neighbours (no self-connection) and to the other stream: two phases per layer.
- `sent`: S_s = h_s^{l-1}, the outputs the previous layer has already emitted (its feed-forward spikes
  reach the context synapses too), so context costs synapses but no extra emissions. Layer 0 has no
  context (what precedes it are sensor values, not emitted outputs).

Wiring M_P, M_D (`context_k`): 0 = dense (broadcast: M_P = 1 - I); k > 0 = sparse local, each unit
receives from the k sources nearest to its own position on a ring (`local_mask`).
Classifier (fusion by concatenation): logits = [h_a^{L-1}, h_v^{L-1}] W_out^T + b_out.
The point-neuron baseline (`model="point"`) is the same network with law `point` (A = R) and no
context weights: same neurons, same feed-forward connections, concatenation fusion.

Model file (`.npz`, allow_pickle=False), every key:

| key | dtype/shape | meaning |
|---|---|---|
| `format` | str scalar | `"spiking-mcc/mcc-v1"` |
| `model` | str scalar | `"mcc"` or `"point"` |
| `law` | str scalar | transfer law, one of `ALL_LAWS` (always `point` for the baseline) |
| `context_source` | str scalar | `broadcast` or `sent` (absent in older files: `broadcast`) |
| `context_k` | int64 scalar | 0 dense, k sparse local context wiring (absent in older files: 0) |
| `n_audio`, `n_visual`, `n_classes` | int64 scalar | input feature counts, number of classes |
| `hidden` | int64 (L,) | hidden units per layer, the same in both streams |
| `context` | str scalar | one-line description of the context wiring above (for humans) |
| `audio_mean`, `audio_std` | float64 (n_audio,) | input standardisation of the audio stream |
| `visual_mean`, `visual_std` | float64 (n_visual,) | input standardisation of the visual stream |
| `{s}{l}_w_r`, `{s}{l}_b_r` | float64 (n_l, n_{l-1}), (n_l,) | receptive field, s in {audio, visual} |
| `{s}{l}_w_p` | float64 (n_l, m) | proximal context weights, zero outside M_P (mcc only) |
| `{s}{l}_w_d` | float64 (n_l, m) | distal context weights (other stream), zero outside M_D (mcc only) |
| `{s}{l}_w_u` | float64 (n_l, 2) | universal context weights from u (mcc only) |
| `out_w`, `out_b` | float64 (n_classes, 2 n_{L-1}), (n_classes,) | fused classifier (audio units first) |

m = n_l for `broadcast`, n_{l-1} for `sent` (whose layer 0 has no context arrays).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from spiking_mcc.errors import DataError, ModelError, ParameterError
from spiking_mcc.io import load_npz, save_npz
from spiking_mcc.nn_math import softmax, softmax_cross_entropy
from spiking_mcc.twopoint.transfer import ALL_LAWS, CONTEXT_LAWS, UNIT_LAW, check_law, transfer_with_grad

FORMAT = "spiking-mcc/mcc-v1"
MODELS = ("mcc", "point")
STREAMS = ("audio", "visual")
CONTEXT_SOURCES = ("broadcast", "sent")
CONTEXT_WIRING = {
    "broadcast": "C_s = relu(R_s)*mask_s (W_P*M_P)^T + relu(R_o)*mask_o (W_D*M_D)^T "
                 "+ [mean relu(R_a), mean relu(R_v)] W_U^T, all from the same layer",
    "sent": "C_s = h_s^{l-1} (W_P*M_P)^T + h_o^{l-1} (W_D*M_D)^T + [mean h_a^{l-1}, mean h_v^{l-1}] W_U^T "
            "(outputs already emitted by the previous layer; no context at layer 0)",
}
CONTEXT_KEYS = ("w_p", "w_d", "w_u")
STD_FLOOR_FRACTION = 0.5
CONTEXT_INIT_SCALE = 0.1  # context weights start small, so an untrained MCC unit behaves like A ~ R


@dataclass
class Network:
    """An MCC or point-neuron network: sizes, transfer law, context wiring, standardisation and weights."""

    model: str
    law: str
    n_audio: int
    n_visual: int
    hidden: tuple[int, ...]
    n_classes: int
    params: dict[str, np.ndarray]
    norm: dict[str, np.ndarray] = field(default_factory=dict)
    context_source: str = "broadcast"
    context_k: int = 0

    @property
    def n_layers(self) -> int:
        return len(self.hidden)

    def has_context(self, layer: int) -> bool:
        """Whether hidden `layer` receives context (MCC only; `sent` has none at layer 0)."""
        return self.model == "mcc" and not (self.context_source == "sent" and layer == 0)

    def context_width(self, layer: int) -> int:
        """Number of context sources per stream of `layer`: its own width (broadcast) or the previous one."""
        return self.hidden[layer] if self.context_source == "broadcast" else self.hidden[layer - 1]

    def copy(self) -> Network:
        return Network(self.model, self.law, self.n_audio, self.n_visual, tuple(self.hidden),
                       self.n_classes, {k: v.copy() for k, v in self.params.items()},
                       {k: v.copy() for k, v in self.norm.items()}, self.context_source, self.context_k)


@lru_cache(maxsize=64)
def local_mask(n_to: int, n_from: int, k: int, exclude_self: bool) -> np.ndarray:
    """(n_to, n_from) 0/1 context wiring: dense for k = 0, else each receiver i takes the k sources nearest
    (on a ring) to position i * n_from // n_to; exclude_self drops source i (same-layer lateral wiring)."""
    dense = np.ones((n_to, n_from))
    if exclude_self:
        dense -= np.eye(n_to, n_from)
    available = n_from - (1 if exclude_self else 0)
    if k == 0 or k >= available:
        dense.flags.writeable = False
        return dense
    offsets = [0] + [sign * step for step in range(1, n_from) for sign in (1, -1)]
    if exclude_self:
        offsets = offsets[1:]
    mask = np.zeros((n_to, n_from))
    for i in range(n_to):
        centre = i * n_from // n_to
        picked = []
        for off in offsets:
            j = (centre + off) % n_from
            if j not in picked:
                picked.append(j)
            if len(picked) == k:
                break
        mask[i, picked] = 1.0
    mask.flags.writeable = False
    return mask


def context_masks(net: Network, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """(M_P, M_D) of `layer` (both (n_l, context_width)); see the module docstring."""
    n, m = net.hidden[layer], net.context_width(layer)
    return (local_mask(n, m, net.context_k, net.context_source == "broadcast"),
            local_mask(n, m, net.context_k, False))


def check_context(context_source: str, context_k: int) -> tuple[str, int]:
    """Validated (context_source, context_k), else ParameterError naming the parameter."""
    if context_source not in CONTEXT_SOURCES:
        raise ParameterError(f"context_source: expected one of {list(CONTEXT_SOURCES)}, "
                             f"got {context_source!r}")
    if isinstance(context_k, bool) or int(context_k) != context_k or context_k < 0:
        raise ParameterError(f"context_k: must be an integer >= 0 (0 = dense), got {context_k!r}")
    return context_source, int(context_k)


def init_network(model: str, n_audio: int, n_visual: int, hidden: tuple[int, ...] = (64, 32),
                 n_classes: int = 10, law: str = UNIT_LAW, seed: int = 0, context_source: str = "broadcast",
                 context_k: int = 0) -> Network:
    """Random weights (He-normal feed-forward, small context), identity input standardisation."""
    if model not in MODELS:
        raise ParameterError(f"model: expected one of {list(MODELS)}, got {model!r}")
    law = "point" if model == "point" else check_law(law)
    if model == "mcc" and law == "point":
        raise ParameterError(f"law: the MCC network needs a context law {list(CONTEXT_LAWS)}, got 'point'")
    context_source, context_k = check_context(context_source, context_k)
    hidden = tuple(int(n) for n in hidden)
    if not hidden or min(hidden) < 2:
        raise ParameterError(f"hidden: need at least one layer of >= 2 units, got {list(hidden)}")
    for name, n in (("n_audio", n_audio), ("n_visual", n_visual), ("n_classes", n_classes)):
        if int(n) < 1:
            raise ParameterError(f"{name}: must be >= 1, got {n}")
    net = Network(model, law, int(n_audio), int(n_visual), hidden, int(n_classes), {},
                  context_source=context_source, context_k=context_k)
    rng = np.random.default_rng(seed)
    params = net.params
    for stream, n_in in (("audio", n_audio), ("visual", n_visual)):
        fan_in = int(n_in)
        for layer, n in enumerate(hidden):
            params[f"{stream}{layer}_w_r"] = rng.normal(0.0, np.sqrt(2.0 / fan_in), (n, fan_in))
            params[f"{stream}{layer}_b_r"] = np.zeros(n)
            if net.has_context(layer):
                m = net.context_width(layer)
                mask_p, mask_d = context_masks(net, layer)
                scale = CONTEXT_INIT_SCALE / np.sqrt(n if context_source == "broadcast" else m)
                params[f"{stream}{layer}_w_p"] = rng.normal(0.0, scale, (n, m)) * mask_p
                params[f"{stream}{layer}_w_d"] = rng.normal(0.0, scale, (n, m)) * mask_d
                params[f"{stream}{layer}_w_u"] = rng.normal(0.0, CONTEXT_INIT_SCALE, (n, 2))
            fan_in = n
    params["out_w"] = rng.normal(0.0, np.sqrt(1.0 / (2 * hidden[-1])), (n_classes, 2 * hidden[-1]))
    params["out_b"] = np.zeros(n_classes)
    net.norm.update({"audio_mean": np.zeros(n_audio), "audio_std": np.ones(n_audio),
                     "visual_mean": np.zeros(n_visual), "visual_std": np.ones(n_visual)})
    return net


def fit_standardisation(net: Network, audio: np.ndarray, visual: np.ndarray) -> None:
    """Set the input standardisation from training data.

    The std is floored at STD_FLOOR_FRACTION of the feature-mean std, so a pixel that is almost always 0
    (image corners) is not blown up to a huge value by the rare sample where it is not."""
    for stream, x in (("audio", audio), ("visual", visual)):
        x = np.asarray(x, dtype=np.float64)
        std = x.std(axis=0)
        net.norm[f"{stream}_mean"] = x.mean(axis=0)
        net.norm[f"{stream}_std"] = np.maximum(std, STD_FLOOR_FRACTION * max(float(std.mean()), 1e-12))


def full_masks(net: Network) -> dict[str, np.ndarray]:
    """Unit masks of all ones (no damage): {'audio0': (n_0,), ...}."""
    return {f"{s}{layer}": np.ones(n) for s in STREAMS for layer, n in enumerate(net.hidden)}


@dataclass
class Forward:
    """Everything the backward pass and the activity counter need, per layer and stream."""

    logits: np.ndarray
    inputs: dict[str, np.ndarray]  # standardised inputs per stream
    layers: list[dict[str, dict[str, np.ndarray]]]  # [layer][stream] -> R, S, C, A, dA_dR, dA_dC, y, x_in
    u: list[np.ndarray]  # universal context per layer, (B, 2) (zeros where a layer has no context)


def forward(net: Network, audio: np.ndarray, visual: np.ndarray,
            masks: dict[str, np.ndarray] | None = None, theta: float = 0.0) -> Forward:
    """Run the network on a batch: audio (B, n_audio), visual (B, n_visual) -> Forward (logits (B, classes)).

    `theta` is the transmission threshold: a unit sends its output (and, `broadcast`, its context signal)
    only when it exceeds theta, otherwise it sends 0. theta = 0 is the plain network (training uses it).
    """
    p = net.params
    masks = masks or full_masks(net)
    h = {"audio": (np.asarray(audio, dtype=np.float64) - net.norm["audio_mean"]) / net.norm["audio_std"],
         "visual": (np.asarray(visual, dtype=np.float64) - net.norm["visual_mean"]) / net.norm["visual_std"]}
    inputs = dict(h)
    layers, us = [], []
    for layer in range(net.n_layers):
        cache = {s: {"x_in": h[s], "mask": masks[f"{s}{layer}"]} for s in STREAMS}
        for s in STREAMS:
            cache[s]["R"] = h[s] @ p[f"{s}{layer}_w_r"].T + p[f"{s}{layer}_b_r"]
        if net.has_context(layer):
            for s in STREAMS:
                if net.context_source == "broadcast":
                    q = np.maximum(cache[s]["R"], 0.0) * cache[s]["mask"]
                    cache[s]["S"] = q * (q > theta) if theta > 0.0 else q
                else:
                    cache[s]["S"] = h[s]  # the previous layer's emitted outputs
            u = np.stack([cache["audio"]["S"].mean(axis=1), cache["visual"]["S"].mean(axis=1)], axis=1)
            mask_p, mask_d = context_masks(net, layer)
            for s, o in (("audio", "visual"), ("visual", "audio")):
                cache[s]["C"] = (cache[s]["S"] @ (p[f"{s}{layer}_w_p"] * mask_p).T
                                 + cache[o]["S"] @ (p[f"{s}{layer}_w_d"] * mask_d).T
                                 + u @ p[f"{s}{layer}_w_u"].T)
        else:
            u = np.zeros((len(h["audio"]), 2))
            for s in STREAMS:
                cache[s]["C"] = np.zeros_like(cache[s]["R"])
        for s in STREAMS:
            a, da_dr, da_dc = transfer_with_grad(net.law, cache[s]["R"], cache[s]["C"])
            y = np.maximum(a, 0.0) * cache[s]["mask"]
            cache[s].update(A=a, dA_dR=da_dr, dA_dC=da_dc, y=y * (y > theta) if theta > 0.0 else y)
            h[s] = cache[s]["y"]
        layers.append(cache)
        us.append(u)
    fused = np.concatenate([h["audio"], h["visual"]], axis=1)
    logits = fused @ p["out_w"].T + p["out_b"]
    return Forward(logits, inputs, layers, us)


def predict(net: Network, audio: np.ndarray, visual: np.ndarray, masks: dict[str, np.ndarray] | None = None,
            theta: float = 0.0, batch: int = 1024) -> np.ndarray:
    """Class probabilities (n, n_classes), computed in batches."""
    out = []
    for start in range(0, len(audio), batch):
        logits = forward(net, audio[start:start + batch], visual[start:start + batch], masks, theta).logits
        out.append(softmax(logits))
    return np.concatenate(out) if out else np.zeros((0, net.n_classes))


def loss_and_grads(net: Network, audio: np.ndarray, visual: np.ndarray, labels: np.ndarray,
                   sample_weight: np.ndarray | None = None, activity_l1: float = 0.0,
                   masks: dict[str, np.ndarray] | None = None) -> tuple[float, dict[str, np.ndarray]]:
    """Loss = mean_i w_i CE_i + activity_l1 * mean_i sum_units h / n_hidden_units, and its exact gradient."""
    return backward(net, forward(net, audio, visual, masks), labels, sample_weight, activity_l1)


def backward(net: Network, fw: Forward, labels: np.ndarray, sample_weight: np.ndarray | None = None,
             activity_l1: float = 0.0) -> tuple[float, dict[str, np.ndarray]]:
    """The loss of `loss_and_grads` and its gradient, from a forward pass `fw` (theta = 0).

    Explicit backpropagation through the layers and their context (see module docstring); masked
    (silenced) units get no gradient through their output or their context signal.
    """
    p = net.params
    batch = len(labels)
    weight = np.ones(batch) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    loss, d_logits = softmax_cross_entropy(fw.logits, labels, weight)
    n_hidden_units = 2 * sum(net.hidden)
    if activity_l1 > 0.0:
        loss += activity_l1 * sum(float(c[s]["y"].sum()) for c in fw.layers for s in STREAMS) / (
            batch * n_hidden_units)

    grads: dict[str, np.ndarray] = {}
    d_logits *= weight[:, None] / batch
    last = fw.layers[-1]
    fused = np.concatenate([last["audio"]["y"], last["visual"]["y"]], axis=1)
    grads["out_w"] = d_logits.T @ fused
    grads["out_b"] = d_logits.sum(axis=0)
    d_fused = d_logits @ p["out_w"]
    n_last = net.hidden[-1]
    d_h = {"audio": d_fused[:, :n_last], "visual": d_fused[:, n_last:]}
    l1_grad = activity_l1 / (batch * n_hidden_units)

    for layer in range(net.n_layers - 1, -1, -1):
        cache = fw.layers[layer]
        d_r, d_c = {}, {}
        for s in STREAMS:
            c = cache[s]
            d_y = d_h[s] + (l1_grad if activity_l1 > 0.0 else 0.0)
            d_a = d_y * (c["A"] > 0.0) * c["mask"]
            d_r[s] = d_a * c["dA_dR"]
            d_c[s] = d_a * c["dA_dC"]
        d_src = None
        if net.has_context(layer):
            mask_p, mask_d = context_masks(net, layer)
            m = net.context_width(layer)
            u = fw.u[layer]
            d_src = {s: np.zeros_like(cache[s]["S"]) for s in STREAMS}
            d_u = np.zeros_like(u)
            for s, o in (("audio", "visual"), ("visual", "audio")):
                grads[f"{s}{layer}_w_p"] = (d_c[s].T @ cache[s]["S"]) * mask_p
                grads[f"{s}{layer}_w_d"] = (d_c[s].T @ cache[o]["S"]) * mask_d
                grads[f"{s}{layer}_w_u"] = d_c[s].T @ u
                d_src[s] += d_c[s] @ (p[f"{s}{layer}_w_p"] * mask_p)
                d_src[o] += d_c[s] @ (p[f"{s}{layer}_w_d"] * mask_d)
                d_u += d_c[s] @ p[f"{s}{layer}_w_u"]
            d_src["audio"] += d_u[:, :1] / m
            d_src["visual"] += d_u[:, 1:] / m
            if net.context_source == "broadcast":  # S = relu(R) * mask of this layer
                for s in STREAMS:
                    d_r[s] = d_r[s] + d_src[s] * (cache[s]["R"] > 0.0) * cache[s]["mask"]
                d_src = None
        for s in STREAMS:
            grads[f"{s}{layer}_w_r"] = d_r[s].T @ cache[s]["x_in"]
            grads[f"{s}{layer}_b_r"] = d_r[s].sum(axis=0)
            d_h[s] = d_r[s] @ p[f"{s}{layer}_w_r"]
            if d_src is not None:  # `sent`: S = the previous layer's outputs
                d_h[s] = d_h[s] + d_src[s]
    return loss, grads


# --- validation -------------------------------------------------------------------------------------------

def check_inputs(net: Network, audio: np.ndarray, visual: np.ndarray, labels: np.ndarray | None = None,
                 where: str = "input") -> None:
    """Raise DataError naming the array if shapes, NaNs or labels do not fit the network."""
    for name, x, n in (("audio", audio, net.n_audio), ("visual", visual, net.n_visual)):
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != n:
            raise DataError(f"{where} {name}: expected shape (n, {n}), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise DataError(f"{where} {name}: contains {int(np.sum(~np.isfinite(x)))} NaN/inf value(s)")
    if len(audio) != len(visual):
        raise DataError(f"{where}: audio has {len(audio)} samples but visual has {len(visual)}")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(audio),):
            raise DataError(f"{where} labels: expected shape ({len(audio)},), got {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"{where} labels: expected integers, got dtype {labels.dtype}")
        if len(labels) and (labels.min() < 0 or labels.max() >= net.n_classes):
            raise DataError(f"{where} labels: must be in [0, {net.n_classes}), got range "
                            f"[{labels.min()}, {labels.max()}]")


# --- files ------------------------------------------------------------------------------------------------

def expected_shapes(net: Network) -> dict[str, tuple[int, ...]]:
    """Shape of every weight array the network must have."""
    shapes: dict[str, tuple[int, ...]] = {}
    for stream, n_in in (("audio", net.n_audio), ("visual", net.n_visual)):
        fan_in = n_in
        for layer, n in enumerate(net.hidden):
            shapes[f"{stream}{layer}_w_r"] = (n, fan_in)
            shapes[f"{stream}{layer}_b_r"] = (n,)
            if net.has_context(layer):
                m = net.context_width(layer)
                shapes.update({f"{stream}{layer}_w_p": (n, m), f"{stream}{layer}_w_d": (n, m),
                               f"{stream}{layer}_w_u": (n, 2)})
            fan_in = n
    shapes["out_w"] = (net.n_classes, 2 * net.hidden[-1])
    shapes["out_b"] = (net.n_classes,)
    return shapes


def save_network(net: Network, path: str | os.PathLike) -> Path:
    """Write the network to `.npz` (keys in the module docstring), atomically, no pickle."""
    arrays = {"format": np.array(FORMAT), "model": np.array(net.model), "law": np.array(net.law),
              "n_audio": np.array(net.n_audio, dtype=np.int64),
              "n_visual": np.array(net.n_visual, dtype=np.int64),
              "n_classes": np.array(net.n_classes, dtype=np.int64),
              "hidden": np.array(net.hidden, dtype=np.int64),
              "context": np.array(CONTEXT_WIRING[net.context_source]),
              "context_source": np.array(net.context_source),
              "context_k": np.array(net.context_k, dtype=np.int64)}
    arrays.update({k: np.asarray(v, dtype=np.float64) for k, v in net.norm.items()})
    arrays.update({k: np.asarray(v, dtype=np.float64) for k, v in net.params.items()})
    return save_npz(path, **arrays)


def load_network(path: str | os.PathLike) -> Network:
    """Read a network written by save_network; a missing/corrupt/inconsistent file -> ModelError naming it."""
    try:
        arrays = load_npz(path, required=("format", "model", "law", "n_audio", "n_visual", "n_classes",
                                          "hidden"))
    except DataError as err:
        raise ModelError(str(err)) from None
    fmt = str(arrays["format"])
    if fmt != FORMAT:
        raise ModelError(f"{path}: format is {fmt!r}, expected {FORMAT!r}")
    model, law = str(arrays["model"]), str(arrays["law"])
    if model not in MODELS:
        raise ModelError(f"{path}: model is {model!r}, expected one of {list(MODELS)}")
    if law not in ALL_LAWS:
        raise ModelError(f"{path}: law is {law!r}, expected one of {list(ALL_LAWS)}")
    hidden = tuple(int(n) for n in np.atleast_1d(arrays["hidden"]))
    source = str(arrays.get("context_source", "broadcast"))
    k = int(arrays.get("context_k", 0))
    try:
        check_context(source, k)
    except ParameterError as err:
        raise ModelError(f"{path}: {err}") from None
    net = Network(model, law, int(arrays["n_audio"]), int(arrays["n_visual"]), hidden,
                  int(arrays["n_classes"]), {}, context_source=source, context_k=k)
    for key, shape in expected_shapes(net).items():
        if key not in arrays:
            raise ModelError(f"{path}: missing weight array '{key}'")
        if arrays[key].shape != shape:
            raise ModelError(f"{path}: array '{key}' has shape {arrays[key].shape}, expected {shape}")
        net.params[key] = arrays[key].astype(np.float64)
    for stream, n in (("audio", net.n_audio), ("visual", net.n_visual)):
        for stat, default in (("mean", 0.0), ("std", 1.0)):
            key = f"{stream}_{stat}"
            value = arrays.get(key, np.full(n, default))
            if value.shape != (n,):
                raise ModelError(f"{path}: array '{key}' has shape {value.shape}, expected ({n},)")
            net.norm[key] = value.astype(np.float64)
    for key, value in {**net.params, **net.norm}.items():
        if not np.all(np.isfinite(value)):
            raise ModelError(f"{path}: array '{key}' contains NaN/inf")
    if np.any(net.norm["audio_std"] <= 0) or np.any(net.norm["visual_std"] <= 0):
        raise ModelError(f"{path}: input standardisation std must be > 0")
    return net
