r"""Streaming batch eigenupdate (SBE) estimator of a batch gradient's top singular triplets.

Hoskins et al. 2019, Front. Neurosci. 13:793; SPEC.md section 11. For one crossbar layer
W (a x b), sample j of a batch brings an input x_j (b,) and a back-propagated error
delta_j (a,); the batch gradient is G = (1/n) sum_j delta_j x_j^T. The estimator keeps, per
rank-1 component, X in R^b, Delta in R^a and a signed sigma, and folds in one sample at a
time (hats are unit vectors):

.. math::
    X &\leftarrow \tfrac{j}{j+1} X + \tfrac{1}{j+1} x_j (\delta_j\cdot\hat\Delta) \\
    \Delta &\leftarrow \tfrac{j}{j+1} \Delta + \tfrac{1}{j+1} \delta_j (x_j\cdot\hat X) \quad
        (\hat X \text{ from the new } X) \\
    \sigma &\leftarrow \tfrac{j}{j+1} \sigma + \tfrac{1}{j+1} (x_j\cdot\hat X)(\delta_j\cdot\hat\Delta)

With fixed hats these are running means, so X -> G^T Delta-hat, Delta -> G X-hat and
sigma -> Delta-hat^T G X-hat: a streaming power iteration whose fixed point is the top
singular triplet of G, with sigma signed (sigma Delta-hat X-hat^T is then the rank-1 estimate
of G whatever the signs of the hats; |sigma| is never taken).

Indexing: j = 1..n counts the samples of the current batch, so the state carried over from
the previous batch (the warm start) enters as the j = 0 estimate and keeps weight 1/(n+1)
at the end of the batch. A cold start has X = 0, sigma = 0 and a random unit Delta.

Rank k by deflation: component i sees x_j with the (just updated) directions X-hat_1..i-1
projected out, so it converges to the top triplet of G (I - sum X-hat X-hat^T).
The state is k (a + b + 1) numbers instead of the a b of a gradient accumulator.

The loop over samples is the algorithm itself (each sample's update depends on the hats the
previous one left), so it is a tight scalar-and-vector loop rather than a vectorised one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from spiking_mcc.errors import ParameterError


@dataclass
class SBEState:
    """State of a rank-k estimator for one a x b layer.

    x_vec: (k, b) the X of each component; delta_vec: (k, a) the Delta; sigma: (k,) signed.
    x_hat, delta_hat: the unit vectors of x_vec, delta_vec (derived; cached so that a zero
    vector keeps its last direction instead of dividing by zero).
    """

    x_vec: np.ndarray
    delta_vec: np.ndarray
    sigma: np.ndarray
    x_hat: np.ndarray
    delta_hat: np.ndarray

    @property
    def rank(self) -> int:
        return int(self.sigma.shape[0])

    @property
    def state_floats(self) -> int:
        """Numbers of state the hardware keeps: k (a + b + 1)."""
        k, b = self.x_vec.shape
        return k * (self.delta_vec.shape[1] + b + 1)


def state_floats(n_out: int, n_in: int, rank: int) -> int:
    """SBE memory for an n_out x n_in layer at rank k: k (a + b + 1) floats."""
    return rank * (n_out + n_in + 1)


def check_rank(rank: int, n_out: int, n_in: int, layer: str = "layer") -> None:
    """Rank must be an integer in [1, min(a, b)] for an a x b layer."""
    limit = min(n_out, n_in)
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 1 <= rank <= limit:
        raise ParameterError(
            f"rank: must be an integer in [1, {limit}] for {layer} ({n_out} x {n_in}), got {rank!r}"
        )


def init_state(n_out: int, n_in: int, rank: int, rng: np.random.Generator) -> SBEState:
    """Cold start: X = 0, sigma = 0, Delta a random unit vector per component."""
    check_rank(rank, n_out, n_in)
    delta = rng.standard_normal((rank, n_out))
    delta /= np.linalg.norm(delta, axis=1, keepdims=True)
    return SBEState(
        x_vec=np.zeros((rank, n_in)),
        delta_vec=delta.copy(),
        sigma=np.zeros(rank),
        x_hat=np.zeros((rank, n_in)),
        delta_hat=delta,
    )


def stream_batch(state: SBEState, inputs: np.ndarray, errors: np.ndarray) -> SBEState:
    """Fold one batch into the estimator, sample by sample, in place; returns the state.

    inputs: (n, b) the layer inputs x_j; errors: (n, a) the back-propagated errors delta_j.
    The state is warm: call again with the next batch to continue from it.
    """
    inputs = np.asarray(inputs, dtype=float)
    errors = np.asarray(errors, dtype=float)
    n_samples = inputs.shape[0]
    if n_samples < 1 or errors.shape[0] != n_samples:
        raise ParameterError(
            f"batch: inputs {inputs.shape} and errors {errors.shape} must hold the same number (>= 1) "
            "of samples"
        )
    if inputs.shape[1] != state.x_vec.shape[1] or errors.shape[1] != state.delta_vec.shape[1]:
        raise ParameterError(
            f"batch: inputs/errors widths {inputs.shape[1]}/{errors.shape[1]} do not match the estimator "
            f"({state.x_vec.shape[1]}/{state.delta_vec.shape[1]})"
        )
    x_vec, delta_vec, sigma = state.x_vec, state.delta_vec, state.sigma
    x_hat, delta_hat = state.x_hat, state.delta_hat
    rank = state.rank
    for j in range(1, n_samples + 1):
        keep, new = j / (j + 1), 1.0 / (j + 1)
        x = inputs[j - 1]
        delta = errors[j - 1]
        for i in range(rank):
            x_vec[i] *= keep
            x_vec[i] += (new * float(delta @ delta_hat[i])) * x
            norm = math.sqrt(float(x_vec[i] @ x_vec[i]))
            if norm > 0.0:
                np.multiply(x_vec[i], 1.0 / norm, out=x_hat[i])
            x_proj = float(x @ x_hat[i])
            delta_vec[i] *= keep
            delta_vec[i] += (new * x_proj) * delta
            norm = math.sqrt(float(delta_vec[i] @ delta_vec[i]))
            if norm > 0.0:
                np.multiply(delta_vec[i], 1.0 / norm, out=delta_hat[i])
            sigma[i] = keep * sigma[i] + new * x_proj * float(delta @ delta_hat[i])
            if i + 1 < rank:
                x = x - x_proj * x_hat[i]  # deflation: later components see x without this direction
    return state


def low_rank_update(state: SBEState) -> np.ndarray:
    """The rank-k estimate sum_i sigma_i Delta-hat_i X-hat_i^T of the batch gradient, (a, b)."""
    return (state.delta_hat * state.sigma[:, None]).T @ state.x_hat

