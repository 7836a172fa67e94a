r"""Per-population thresholds and output scales from calibration pre-activations.

Every method returns, per ReLU population p, a threshold :math:`\alpha_p` (``v_th``) and the value a spike
carries downstream, :math:`\beta_p` (``output_scale``):

- ``max``: :math:`\alpha = \beta = \max x^+` (data-based normalisation, Diehl et al. 2015).
- ``percentile``: :math:`\alpha = \beta =` the q-th percentile (default 99.9) of the positive
  activations (robust normalisation, Rueckauer et al. 2017).
- ``channel``: the percentile per channel (images) or per neuron (dense), floored at
  ``CHANNEL_ALPHA_FLOOR`` times the population's largest value (as the per-channel distribution fit).
- ``distribution``: Datta & Beerel 2022 (arXiv 2112.12133): fit :math:`(\alpha, \beta)` for the target T
  to minimise :math:`E_{hist}[(\mathrm{clip}(x, 0, \mu) - q_T(x))^2]` with the T-step spiking output of an
  IF neuron with reset by subtraction and initial membrane :math:`f\alpha` under constant input x,
  :math:`q_T(x) = \frac{\beta}{T}\,\mathrm{clip}(\lfloor x T/\alpha + f \rfloor, 0, T)`; :math:`\mu` is the
  ANN's ceiling (the clipped-ReLU max, else the calibration maximum). The expectation runs over a histogram
  of the calibration pre-activations; for each candidate :math:`\alpha` the optimal :math:`\beta` is the
  closed-form least-squares scale. Populations are fitted in order, each on pre-activations of the
  network whose earlier populations already output q_T. Granularity "layer" fits one pair per population
  (the paper); "channel" (default) one per channel or dense neuron, which at T <= 8 keeps the small
  digits CNN within 0.5 points where per-layer pairs lose about 1 point.
- ``uniform``: the baseline Datta & Beerel compare against, conversion that assumes uniformly distributed
  pre-activations: :math:`\alpha = \beta = \mu` per layer, the ANN's clipped-ReLU ceiling (else the
  calibration maximum), with the half-step shift of such methods coming from the initial membrane
  :math:`\alpha/2` (``init_membrane_fraction`` 0.5, the ``convert`` default); see ``docs/lowlatency.md``.

A population whose ReLU has a clip max never gets a threshold above it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conversion import defaults, ops
from conversion.ir import Graph, ReLU, SpikingNetwork
from spiking_mcc.errors import DataError, ParameterError

METHODS = ("max", "percentile", "channel", "distribution", "uniform")
GRANULARITIES = ("layer", "channel")
DEFAULT_PERCENTILE = defaults.PERCENTILE
HISTOGRAM_BINS = 2048
# Per-channel thresholds stay >= this fraction of the population's largest, so the weights divided by
# the thresholds span at most 10x per layer: Loihi's 8-bit weight mantissa shares one exponent per layer
# (SPEC section 9), and a channel with a 1e-5 threshold would zero every other weight after quantisation.
CHANNEL_ALPHA_FLOOR = 0.1
ALPHA_GRID = np.linspace(0.05, 1.0, 96)  # candidate alpha as a fraction of mu


@dataclass(frozen=True)
class Fit:
    """A fitted (alpha, beta) and the expected squared error it leaves (per activation)."""

    alpha: float
    beta: float
    mse: float


def spiking_quantise(x: np.ndarray, alpha: float, beta: float, timesteps: int,
                     init_fraction: float = 0.0) -> np.ndarray:
    """q_T(x): the rate-coded output of an IF neuron (reset by subtraction) under constant input x."""
    counts = np.clip(np.floor(np.asarray(x) * timesteps / alpha + init_fraction), 0, timesteps)
    return beta * counts / timesteps


def fit_distribution(pre_activations: np.ndarray, timesteps: int, ceiling: float | None = None,
                     init_fraction: float = 0.0, bins: int = HISTOGRAM_BINS) -> Fit:
    """Datta & Beerel fit of (alpha, beta) for T steps from calibration pre-activations."""
    x = np.asarray(pre_activations, dtype=np.float64).ravel()
    positive = x[x > 0]
    if positive.size == 0:
        return Fit(1.0, 1.0, 0.0)
    mu = float(positive.max()) if ceiling is None else float(min(ceiling, positive.max()))
    # Non-positive inputs give 0 in both clip and q_T: they add nothing to the error, only to the count.
    hist, edges = np.histogram(positive, bins=bins, range=(0.0, float(positive.max())))
    centres = 0.5 * (edges[:-1] + edges[1:])
    weight = hist / x.size
    target = np.clip(centres, 0.0, mu)
    best = Fit(mu, mu, np.inf)
    for alpha in ALPHA_GRID * mu:
        levels = spiking_quantise(centres, alpha, 1.0, timesteps, init_fraction)
        denominator = np.sum(weight * levels * levels)
        beta = float(np.sum(weight * levels * target) / denominator) if denominator > 0 else alpha
        mse = float(np.sum(weight * (target - beta * levels) ** 2))
        if mse < best.mse:
            best = Fit(float(alpha), beta, mse)
    return best


def calibration_inputs(graph: Graph, x_calib) -> dict[str, np.ndarray]:
    """Calibration data as {input name: batched array}: an array for a single-input graph (reshaped and
    checked), or a dict per input (multi-input graphs such as the two-stream MCC, checked by the caller)."""
    if isinstance(x_calib, dict):
        inputs = {k: np.asarray(v, dtype=np.float64) for k, v in x_calib.items()}
    else:
        x_calib = np.asarray(x_calib)
        if x_calib.ndim == 0 or len(x_calib) == 0:
            raise DataError("calibration set is empty; thresholds need at least one calibration sample")
        inputs = {next(iter(graph.inputs)): ops.check_input(graph, x_calib, "calibration")}
    if not inputs or any(len(v) == 0 for v in inputs.values()):
        raise DataError("calibration set is empty; thresholds need at least one calibration sample")
    return inputs


def calibration_pre_activations(graph: Graph, x_calib, batch_size: int = 512) -> dict[str, np.ndarray]:
    """ANN pre-activations of every ReLU population on the calibration set: name -> (N, *shape)."""
    inputs = calibration_inputs(graph, x_calib)
    n = len(next(iter(inputs.values())))
    pops = graph.populations()
    chunks: dict[str, list[np.ndarray]] = {p: [] for p in pops}
    for start in range(0, n, batch_size):
        pre = ops.forward_values(graph, {k: v[start:start + batch_size] for k, v in inputs.items()})[1]
        for p in pops:
            chunks[p].append(pre[p])
    return {p: np.concatenate(v) for p, v in chunks.items()}


def percentile_positive(values: np.ndarray, q: float) -> float:
    """The q-th percentile of the positive entries (1.0 when there are none)."""
    positive = values[values > 0]
    return float(np.percentile(positive, q)) if positive.size else 1.0


def compute_thresholds(graph: Graph, x_calib, method: str = defaults.THRESHOLD,
                       timesteps: int = 8, percentile: float = DEFAULT_PERCENTILE,
                       init_fraction: float = defaults.INIT_MEMBRANE_FRACTION,
                       granularity: str = defaults.GRANULARITY,
                       ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """Thresholds v_th and output scales per population. Returns (v_th, output_scale, details).

    x_calib: an array (single-input graphs) or {input name: array} (see calibration_inputs).
    granularity applies to "distribution": "layer" (one alpha, beta per population, as in the paper) or
    "channel" (one per channel / dense neuron)."""
    if granularity not in GRANULARITIES:
        raise ParameterError(f"granularity must be one of {list(GRANULARITIES)}, got {granularity!r}")
    if method not in METHODS:
        raise ParameterError(f"threshold method must be one of {list(METHODS)}, got {method!r}")
    if not 0 < percentile <= 100:
        raise ParameterError(f"percentile must be in (0, 100], got {percentile}")
    if method == "distribution":
        return _fit_sequential(graph, x_calib, timesteps, init_fraction, granularity)
    pre = calibration_pre_activations(graph, x_calib)
    v_th, scale, details = {}, {}, {}
    for p, values in pre.items():
        ceiling = graph.nodes[p].max if isinstance(graph.nodes[p], ReLU) else None
        if method == "channel":
            per_channel = np.moveaxis(values, 1, 0).reshape(values.shape[1], -1)
            overall = percentile_positive(values, percentile)
            lam = np.array([percentile_positive(c, percentile) if np.any(c > 0) else overall
                            for c in per_channel])
            lam = np.maximum(lam, CHANNEL_ALPHA_FLOOR * lam.max()).reshape((-1,) + (1,) * (values.ndim - 2))
        elif method == "uniform" and ceiling is not None:
            lam = np.asarray(ceiling)
        else:
            lam = np.asarray(percentile_positive(values, percentile if method == "percentile" else 100.0))
        if ceiling is not None:
            lam = np.minimum(lam, ceiling)
        v_th[p], scale[p] = lam, lam.copy()
        details[p] = {"lambda_mean": float(np.mean(lam))}
    return v_th, scale, details


def _fit_sequential(graph: Graph, x_calib, timesteps: int, init_fraction: float, granularity: str):
    """Distribution-aware fit, population by population: each population's pre-activations come from
    the network whose earlier populations already output their T-step quantised values q_T, so later
    fits see (and absorb) the quantisation error of earlier ones."""
    values: dict[str, np.ndarray] = calibration_inputs(graph, x_calib)
    v_th, scale, details = {}, {}, {}
    for name in graph.order:
        node = graph.nodes[name]
        if not isinstance(node, ReLU):
            values[name] = ops.apply_linear(graph, name, values)
            continue
        pre = values[graph.predecessors(name)[0]]
        if granularity == "channel":  # one (alpha, beta) per channel (images) or per neuron (dense)
            fits = [fit_distribution(pre[:, c], timesteps, node.max, init_fraction)
                    for c in range(pre.shape[1])]
            shape = (-1,) + (1,) * (pre.ndim - 2)
            alpha = np.array([f.alpha for f in fits]).reshape(shape)
            beta = np.array([f.beta for f in fits]).reshape(shape)
            # Nearly silent channels would get tiny thresholds, i.e. huge unit-threshold weights: floor them.
            quiet = alpha < CHANNEL_ALPHA_FLOOR * alpha.max()
            alpha = np.where(quiet, CHANNEL_ALPHA_FLOOR * alpha.max(), alpha)
            beta = np.where(quiet, alpha, beta)
            mse = float(np.mean([f.mse for f in fits]))
        else:
            fit = fit_distribution(pre, timesteps, node.max, init_fraction)
            alpha, beta, mse = np.asarray(fit.alpha), np.asarray(fit.beta), fit.mse
        v_th[name], scale[name] = alpha, beta
        details[name] = {"alpha_mean": float(np.mean(alpha)), "beta_mean": float(np.mean(beta)), "mse": mse}
        values[name] = spiking_quantise(pre, alpha, beta, timesteps, init_fraction)
    return v_th, scale, details


def convert(graph: Graph, x_calib: np.ndarray, method: str = defaults.THRESHOLD, timesteps: int = 8,
            percentile: float = DEFAULT_PERCENTILE, granularity: str = defaults.GRANULARITY,
            **neuron) -> SpikingNetwork:
    """Graph + calibration data -> SpikingNetwork with fitted thresholds. `neuron` keywords go to
    SpikingNetwork (reset, leak, init_membrane_fraction, encoding, readout); unset ones take the shared
    defaults of conversion.defaults (those of the `convert` CLI)."""
    neuron.setdefault("init_membrane_fraction", defaults.INIT_MEMBRANE_FRACTION)
    for key, value in (("encoding", defaults.ENCODING), ("readout", defaults.READOUT),
                       ("reset", defaults.RESET), ("leak", defaults.LEAK)):
        neuron.setdefault(key, value)
    init_fraction = float(neuron["init_membrane_fraction"])
    v_th, scale, _ = compute_thresholds(graph, x_calib, method, timesteps, percentile, init_fraction,
                                        granularity)
    if "input_scale" not in neuron:
        neuron["input_scale"] = max(float(np.max(x_calib)), 1e-12)
    if neuron.get("readout") == "counts" and "output_v_th" not in neuron:
        logits = ops.forward(graph, x_calib[:512])[graph.outputs[0]]
        neuron["output_v_th"] = max(float(np.percentile(logits[logits > 0], 99.0)) if np.any(logits > 0)
                                    else 1.0, 1e-12)
    return SpikingNetwork(graph, v_th, scale, threshold_method=method, **neuron)
