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
  :math:`q_T(x) = \frac{\beta}{T}\,\mathrm{clip}(\lceil x T/\alpha + f \rceil - 1, 0, T)`; :math:`\mu` is the
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

from dataclasses import dataclass, field

import numpy as np

from conversion import defaults, ops
from conversion.ir import Graph, ReLU, SpikingNetwork
from spiking_mcc.errors import DataError, ParameterError

METHODS = ("max", "percentile", "channel", "distribution", "uniform")
GRANULARITIES = ("layer", "channel")
CALIBRATION_SOURCE = "calibration data"  # how an overflow error names the data the thresholds come from
DEFAULT_PERCENTILE = defaults.PERCENTILE
# Histogram of the calibration pre-activations for the distribution-aware fit: the project's choice,
# the bin count of TensorRT's INT8 calibration histograms (Migacz 2017, "8-bit inference with TensorRT").
# With alpha >= ALPHA_GRID[0] mu and T <= 32 a quantisation step alpha/T spans >= 3 bins of width mu/2048.
HISTOGRAM_BINS = 2048
# Per-channel thresholds stay >= this fraction of the population's largest, so the weights divided by
# the thresholds span at most 10x per layer: Loihi's 8-bit weight mantissa shares one exponent per layer
# (docs/loihi.md), and a channel with a 1e-5 threshold would zero every other weight after quantisation.
CHANNEL_ALPHA_FLOOR = 0.1
# Candidate alpha as a fraction of mu: the project's choice (Datta & Beerel search alpha without a stated
# grid). A 1 %-of-mu step, from 5 % (a threshold below that clips all but outliers even at T = 32) to mu.
ALPHA_GRID = np.linspace(0.05, 1.0, 96)
# The counts readout's output threshold is the 99th percentile of the positive ANN logits of the first
# OUTPUT_THRESHOLD_SAMPLES calibration samples: the project's choice, one forward batch (about 5,000
# logits for 10 classes, enough for a 99th percentile), so its cost does not grow with the calibration set.
OUTPUT_THRESHOLD_SAMPLES = 512
# Values histogrammed at once by the vectorised fit (whole channels, at least one): bounds its
# temporaries to a few times 2 M entries (about 16 MB each).
FIT_CHUNK_ELEMENTS = 1 << 21
# Errors closer than this fraction of E[clip(x)^2] count as equal (the expanded-square round-off).
TIE_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Fit:
    """A fitted (alpha, beta) and the expected squared error it leaves (per activation)."""

    alpha: float
    beta: float
    mse: float


def spike_counts(x: np.ndarray, alpha, timesteps: int, init_fraction: float = 0.0) -> np.ndarray:
    r"""Spikes in T steps of an IF neuron (reset by subtraction, initial membrane :math:`f\alpha`, spike
    where :math:`V > \alpha`, the engines' rule) under constant input x: :math:`\lceil xT/\alpha + f\rceil
    - 1` clipped to [0, T] (the floor of the ``>=`` rule except where :math:`xT/\alpha + f` is an integer)."""
    return np.clip(np.ceil(x * timesteps / alpha + init_fraction) - 1, 0, timesteps)


def spiking_quantise(x: np.ndarray, alpha: float, beta: float, timesteps: int,
                     init_fraction: float = 0.0) -> np.ndarray:
    """q_T(x): the rate-coded output of an IF neuron (reset by subtraction) under constant input x."""
    return beta * spike_counts(np.asarray(x), alpha, timesteps, init_fraction) / timesteps


def _histograms(values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of values (C, M): the histogram of its positive entries over [0, row max] as np.histogram
    bins them (same edges; a value within 1e-9 of a bin of an edge gets np.histogram's edge rule), the
    edges (C, bins + 1) and the row maxima (0: no positives)."""
    n_rows = len(values)
    positive = values > 0
    maxima = np.where(positive, values, 0.0).max(axis=1)
    top = np.where(maxima > 0, maxima, 1.0)
    edges = np.linspace(0.0, top, bins + 1, axis=1)
    position = values / top[:, None] * bins
    index = position.astype(np.intp)
    index[index == bins] -= 1
    near = np.nonzero(positive & (np.abs(position - np.round(position)) < 1e-9))
    if near[0].size:
        a, i = values[near], index[near]
        i -= a < edges[near[0], i]
        i += (a >= edges[near[0], i + 1]) & (i != bins - 1)
        index[near] = i
    flat = np.where(positive, index + (np.arange(n_rows) * (bins + 1))[:, None], n_rows * (bins + 1))
    hist = np.bincount(flat.ravel(), minlength=n_rows * (bins + 1) + 1)[:-1].reshape(n_rows, bins + 1)
    return hist[:, :bins], edges, maxima


def _first_bin_at_level(centres, alpha, timesteps, init_fraction) -> np.ndarray:
    """(C, A, T): per row, candidate alpha and level j = 1..T the first bin whose centre gets >= j spikes
    (spike_counts is monotone in x). The uniform bin width gives it directly; where that guess lies
    within 1e-6 of a bin of a level boundary, spike_counts itself is evaluated and the index moved bin by
    bin until it agrees, so the split is exactly the one of evaluating every bin."""
    n_rows, bins = centres.shape
    level = np.arange(1, timesteps + 1)
    width = (centres[:, 1] - centres[:, 0] if bins > 1 else 2 * centres[:, 0])[:, None, None]
    position = (level - init_fraction) * alpha[:, :, None] / timesteps / width - 0.5
    index = np.clip(np.floor(position) + 1, 0, bins).astype(np.intp)
    near = np.nonzero(np.abs(position - np.round(position)) < 1e-6)
    if not near[0].size:
        return index
    rows, cand = near[0], alpha[near[0], near[1]]
    lev = level[near[2]]
    row_centres = centres[rows]
    i = index[near]

    def count_at(k):
        return spike_counts(row_centres[np.arange(len(rows)), np.clip(k, 0, bins - 1)], cand, timesteps,
                            init_fraction)

    while True:
        down = (i > 0) & (count_at(i - 1) >= lev)
        up = (i < bins) & (count_at(i) < lev) & ~down
        if not (down.any() or up.any()):
            index[near] = i
            return index
        i = i - down + up


def fit_channels(values: np.ndarray, timesteps: int, ceiling: float | None = None,
                 init_fraction: float = 0.0, bins: int = HISTOGRAM_BINS
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Datta & Beerel fit of (alpha, beta) for T steps, one per row of values (C, M): (alpha, beta, mse),
    each (C,). Every channel and every alpha candidate at once: with S_j the first bin with >= j spikes,
    a candidate's sums over the histogram telescope to cumulative sums at S_1..S_T, so the cost is
    C x len(ALPHA_GRID) x T, not x bins."""
    values = np.asarray(values, dtype=np.float64)
    return _fit_histograms(_histograms(values, bins), values.shape[1], timesteps, ceiling, init_fraction)


def _fit_histograms(histograms: tuple, n_values: int, timesteps: int, ceiling, init_fraction: float):
    """fit_channels from _histograms' output; n_values: values per row (positive or not)."""
    hist, edges, maxima = histograms
    bins = hist.shape[1]
    mu = maxima if ceiling is None else np.minimum(ceiling, maxima)
    # Non-positive inputs give 0 in both clip and q_T: they add nothing to the error, only to the count.
    weight = hist / n_values
    centres = 0.5 * (edges[:, :-1] + edges[:, 1:])
    target = np.clip(centres, 0.0, mu[:, None])
    active = maxima > 0
    alpha = ALPHA_GRID[None, :] * np.where(active, mu, 1.0)[:, None]  # (C, A)
    starts = _first_bin_at_level(centres, alpha, timesteps, init_fraction)  # (C, A, T)
    n_rows = len(alpha)
    # sum_k W_k l_k^p over spike counts k (l_k = k/T, W_k the weight of bins with k spikes)
    # = W_total l_T^p - sum_j cumW[S_j] (l_j^p - l_(j-1)^p)
    flat = (starts + (np.arange(n_rows) * (bins + 1))[:, None, None]).ravel()
    zero = np.zeros((n_rows, 1))
    cum_w = np.concatenate([zero, np.cumsum(weight, axis=1)], axis=1)
    cum_wt = np.concatenate([zero, np.cumsum(weight * target, axis=1)], axis=1)
    at_w = cum_w.ravel()[flat].reshape(starts.shape)
    at_wt = cum_wt.ravel()[flat].reshape(starts.shape)
    level = np.arange(timesteps + 1) / timesteps
    denominator = cum_w[:, -1:] * level[-1] ** 2 - at_w @ np.diff(level * level)
    numerator = cum_wt[:, -1:] * level[-1] - at_wt @ np.diff(level)
    positive = denominator > 0
    beta = np.where(positive, numerator / np.where(positive, denominator, 1.0), alpha)
    total = np.sum(weight * target * target, axis=1)[:, None]
    mse = total - 2 * beta * numerator + beta * beta * denominator
    # The first candidate within round-off of the least error (as a scan keeping strict improvements
    # picks among equal errors, e.g. a channel whose positives all fall in one bin, fitted exactly by many).
    best = np.argmax(mse <= mse.min(axis=1, keepdims=True) + TIE_TOLERANCE * total, axis=1)
    pick = np.arange(n_rows)
    return (np.where(active, alpha[pick, best], 1.0), np.where(active, beta[pick, best], 1.0),
            np.where(active, np.maximum(mse[pick, best], 0.0), 0.0))


def _fit_rows(pre: np.ndarray, per_channel: bool, timesteps: int, ceiling, init_fraction: float,
              cache: dict | None = None, key: str = ""):
    """fit_channels on pre-activations (N, C, ...): one fit per channel (axis 1), or one for all values.
    Channels are histogrammed a chunk of at most FIT_CHUNK_ELEMENTS values at a time, so the fit's
    temporaries stay bounded. With `cache` (pre-activations that do not depend on T), the histograms are
    kept there under `key` for the next T."""
    n_rows = pre.shape[1] if per_channel else 1
    n_values = pre.size // n_rows
    step = max(1, FIT_CHUNK_ELEMENTS // max(1, n_values))

    def rows(i: int) -> np.ndarray:
        if not per_channel:
            return pre.reshape(1, -1)
        chunk = pre[:, i:i + step]
        return np.moveaxis(chunk, 1, 0).reshape(chunk.shape[1], -1)

    if cache is not None and key in cache:
        histograms = cache[key]
    else:
        histograms = [_histograms(rows(i), HISTOGRAM_BINS) for i in range(0, n_rows, step)]
        if cache is not None:
            cache[key] = histograms
    parts = [_fit_histograms(h, n_values, timesteps, ceiling, init_fraction) for h in histograms]
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))


def fit_distribution(pre_activations: np.ndarray, timesteps: int, ceiling: float | None = None,
                     init_fraction: float = 0.0, bins: int = HISTOGRAM_BINS) -> Fit:
    """Datta & Beerel fit of one (alpha, beta) for T steps from calibration pre-activations."""
    alpha, beta, mse = fit_channels(np.asarray(pre_activations, dtype=np.float64).reshape(1, -1), timesteps,
                                    ceiling, init_fraction, bins)
    return Fit(float(alpha[0]), float(beta[0]), float(mse[0]))


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
    """ANN pre-activations of every ReLU population on the calibration set: name -> (N, *shape). An
    activation of any layer that overflows to inf/NaN raises ModelError (ops.check_finite)."""
    inputs = calibration_inputs(graph, x_calib)
    n = len(next(iter(inputs.values())))
    pops = graph.populations()
    chunks: dict[str, list[np.ndarray]] = {p: [] for p in pops}
    for start in range(0, n, batch_size):
        batch = {k: v[start:start + batch_size] for k, v in inputs.items()}
        with np.errstate(over="ignore", invalid="ignore"):
            values, pre = ops.forward_values(graph, batch)
        for name in graph.order:
            ops.check_finite(name, values[name], CALIBRATION_SOURCE, start)
        for p in pops:
            chunks[p].append(pre[p])
    return {p: np.concatenate(v) for p, v in chunks.items()}


def percentile_positive(values: np.ndarray, q: float) -> float:
    """The q-th percentile of the positive entries (1.0 when there are none); q = 100 is their maximum
    (np.percentile's value, without its partition)."""
    if q == 100.0:
        top = float(np.max(values, initial=0.0))
        return top if top > 0 else 1.0
    positive = values[values > 0]
    return float(np.percentile(positive, q)) if positive.size else 1.0


def compute_thresholds(graph: Graph, x_calib, method: str = defaults.THRESHOLD,
                       timesteps: int = 8, percentile: float = DEFAULT_PERCENTILE,
                       init_fraction: float = defaults.INIT_MEMBRANE_FRACTION,
                       granularity: str = defaults.GRANULARITY, cache: FitCache | None = None,
                       ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict]:
    """Thresholds v_th and output scales per population. Returns (v_th, output_scale, details).

    x_calib: an array (single-input graphs) or {input name: array} (see calibration_inputs).
    granularity applies to "distribution": "layer" (one alpha, beta per population, as in the paper) or
    "channel" (one per channel / dense neuron). cache: a FitCache(graph, x_calib) reused over several T
    of the distribution fit (the same thresholds, less work)."""
    if granularity not in GRANULARITIES:
        raise ParameterError(f"granularity must be one of {list(GRANULARITIES)}, got {granularity!r}")
    if method not in METHODS:
        raise ParameterError(f"threshold method must be one of {list(METHODS)}, got {method!r}")
    if not 0 < percentile <= 100:
        raise ParameterError(f"percentile must be in (0, 100], got {percentile}")
    if method == "distribution":
        return _fit_sequential(graph, x_calib, timesteps, init_fraction, granularity, cache)
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


@dataclass
class FitCache:
    """The T-independent work of the distribution-aware fit, kept between fits of one graph on one
    calibration set (the `convert` pipeline fits once per T): the calibration outputs of the nodes before
    any population, and the histograms of populations fed only by them."""

    graph: Graph
    x_calib: object
    values: dict = field(default_factory=dict)
    histograms: dict = field(default_factory=dict)


def _fit_sequential(graph: Graph, x_calib, timesteps: int, init_fraction: float, granularity: str,
                    cache: FitCache | None = None):
    """Distribution-aware fit, population by population: each population's pre-activations come from
    the network whose earlier populations already output their T-step quantised values q_T, so later
    fits see (and absorb) the quantisation error of earlier ones."""
    if cache is not None and (cache.graph is not graph or cache.x_calib is not x_calib):
        raise ParameterError("FitCache: made for another graph or calibration set")
    values: dict[str, np.ndarray] = calibration_inputs(graph, x_calib)
    fixed = set(values)  # outputs that do not depend on T
    if cache is not None:
        values.update(cache.values)
    v_th, scale, details = {}, {}, {}
    for name in graph.order:
        node = graph.nodes[name]
        if not isinstance(node, ReLU):
            if name not in values:
                with np.errstate(over="ignore", invalid="ignore"):
                    values[name] = ops.apply_linear(graph, name, values)
                ops.check_finite(name, values[name], CALIBRATION_SOURCE)
            if all(p in fixed for p in graph.predecessors(name)):
                fixed.add(name)
                if cache is not None:
                    cache.values[name] = values[name]
            continue
        source = graph.predecessors(name)[0]
        pre = values[source]
        kept = cache.histograms if cache is not None and source in fixed else None
        if granularity == "channel":  # one (alpha, beta) per channel (images) or per neuron (dense)
            alpha, beta, mse_c = _fit_rows(pre, True, timesteps, node.max, init_fraction, kept,
                                           f"{name}/channel")
            shape = (-1,) + (1,) * (pre.ndim - 2)
            alpha, beta = alpha.reshape(shape), beta.reshape(shape)
            # Nearly silent channels would get tiny thresholds, i.e. huge unit-threshold weights: floor them.
            quiet = alpha < CHANNEL_ALPHA_FLOOR * alpha.max()
            alpha = np.where(quiet, CHANNEL_ALPHA_FLOOR * alpha.max(), alpha)
            beta = np.where(quiet, alpha, beta)
            mse = float(np.mean(mse_c))
        else:
            alpha, beta, mse_c = _fit_rows(pre, False, timesteps, node.max, init_fraction, kept,
                                           f"{name}/layer")
            alpha, beta, mse = np.asarray(alpha[0]), np.asarray(beta[0]), float(mse_c[0])
        v_th[name], scale[name] = alpha, beta
        details[name] = {"alpha_mean": float(np.mean(alpha)), "beta_mean": float(np.mean(beta)), "mse": mse}
        values[name] = spiking_quantise(pre, alpha, beta, timesteps, init_fraction)
    return v_th, scale, details


def convert(graph: Graph, x_calib: np.ndarray, method: str = defaults.THRESHOLD, timesteps: int = 8,
            percentile: float = DEFAULT_PERCENTILE, granularity: str = defaults.GRANULARITY,
            cache: FitCache | None = None, **neuron) -> SpikingNetwork:
    """Graph + calibration data -> SpikingNetwork with fitted thresholds. `neuron` keywords go to
    SpikingNetwork (reset, leak, init_membrane_fraction, encoding, readout); unset ones take the shared
    defaults of conversion.defaults (those of the `convert` CLI)."""
    neuron.setdefault("init_membrane_fraction", defaults.INIT_MEMBRANE_FRACTION)
    for key, value in (("encoding", defaults.ENCODING), ("readout", defaults.READOUT),
                       ("reset", defaults.RESET), ("leak", defaults.LEAK)):
        neuron.setdefault(key, value)
    init_fraction = float(neuron["init_membrane_fraction"])
    v_th, scale, _ = compute_thresholds(graph, x_calib, method, timesteps, percentile, init_fraction,
                                        granularity, cache)
    if "input_scale" not in neuron:
        neuron["input_scale"] = max(float(np.max(x_calib)), 1e-12)
    if neuron.get("readout") == "counts" and "output_v_th" not in neuron:
        logits = ops.forward(graph, x_calib[:OUTPUT_THRESHOLD_SAMPLES])[graph.outputs[0]]
        neuron["output_v_th"] = max(float(np.percentile(logits[logits > 0], 99.0)) if np.any(logits > 0)
                                    else 1.0, 1e-12)
    return SpikingNetwork(graph, v_th, scale, threshold_method=method, **neuron)
