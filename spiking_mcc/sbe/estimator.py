r"""Streaming batch eigenupdate (SBE) estimator of a batch gradient's top singular triplets.

Hoskins et al. 2019, Front. Neurosci. 13:793; docs/sbe.md. For one crossbar layer
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

How it is computed (mathematically identical, not an approximation): the hats only need
directions, so within a batch the code keeps the running sums Xs = (j+1) X, Ds = (j+1) Delta,
sigma_s = (j+1) sigma and divides by n+1 at the end. Each sample's update depends on the hats
the previous one left, so the loop over samples is the algorithm itself; but everything it
needs from the vectors reduces to dot products, x_j . Xs = x_j . Xs_0 + sum_{m<j} c_m x_j . x_m,
which the batch's Gram matrices (vectorised) supply. The loop is then scalar work plus two
short dot products per sample; the final vectors and the deflated inputs of the next component
are built vectorised from the per-sample coefficients.
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
    """

    x_vec: np.ndarray
    delta_vec: np.ndarray
    sigma: np.ndarray

    @property
    def x_hat(self) -> np.ndarray:
        """Unit X per component, (k, b) (a zero X has a zero hat)."""
        return _unit_rows(self.x_vec)

    @property
    def delta_hat(self) -> np.ndarray:
        """Unit Delta per component, (k, a)."""
        return _unit_rows(self.delta_vec)

    @property
    def rank(self) -> int:
        return int(self.sigma.shape[0])

    @property
    def state_floats(self) -> int:
        """Numbers of state the hardware keeps: k (a + b + 1)."""
        k, b = self.x_vec.shape
        return k * (self.delta_vec.shape[1] + b + 1)


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0.0)


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
    return SBEState(x_vec=np.zeros((rank, n_in)), delta_vec=delta, sigma=np.zeros(rank))


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
    for i in range(state.rank):
        hat_history = _stream_component(state, i, inputs, errors)
        if i + 1 < state.rank:
            # deflation: the next component sees x_j without this component's direction at sample j
            inputs = inputs - np.einsum("jb,jb->j", inputs, hat_history)[:, None] * hat_history
    return state


def _stream_component(state: SBEState, i: int, inputs: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """Stream the batch through component i in place; returns X-hat after every sample, (n, b)."""
    n_samples = inputs.shape[0]
    x_sum0, delta_sum0 = state.x_vec[i].copy(), state.delta_vec[i].copy()  # j = 0: the warm state
    x_gram, delta_gram = inputs @ inputs.T, errors @ errors.T
    # plain Python floats in the loop: numpy scalar arithmetic costs ~10x more per operation
    x_dot0, delta_dot0 = (inputs @ x_sum0).tolist(), (errors @ delta_sum0).tolist()  # x_j.Xs_0, delta_j.Ds_0
    x_sq, delta_sq = np.diag(x_gram).tolist(), np.diag(delta_gram).tolist()
    coef_x = np.zeros(n_samples)  # c_j = delta_j . Delta-hat (before sample j): Xs += c_j x_j
    coef_delta = np.zeros(n_samples)  # e_j = x_j . X-hat (after): Ds += e_j delta_j
    x_norm_sq, delta_norm_sq = float(x_sum0 @ x_sum0), float(delta_sum0 @ delta_sum0)
    sigma_sum = float(state.sigma[i])
    sqrt = math.sqrt
    for j in range(n_samples):
        x_dot = x_dot0[j] + float(np.dot(x_gram[j, :j], coef_x[:j]))  # x_j . Xs (before sample j)
        delta_dot = delta_dot0[j] + float(np.dot(delta_gram[j, :j], coef_delta[:j]))  # delta_j . Ds (before)
        c = delta_dot / sqrt(delta_norm_sq) if delta_norm_sq > 0.0 else 0.0
        x_norm_sq = x_norm_sq + 2.0 * c * x_dot + c * c * x_sq[j]
        e = (x_dot + c * x_sq[j]) / sqrt(x_norm_sq) if x_norm_sq > 0.0 else 0.0  # uses the new X
        delta_norm_sq = delta_norm_sq + 2.0 * e * delta_dot + e * e * delta_sq[j]
        if delta_norm_sq > 0.0:
            sigma_sum += e * (delta_dot + e * delta_sq[j]) / sqrt(delta_norm_sq)
        coef_x[j] = c
        coef_delta[j] = e
    x_sums = x_sum0 + np.cumsum(coef_x[:, None] * inputs, axis=0)  # Xs after every sample
    scale = n_samples + 1.0
    state.x_vec[i] = x_sums[-1] / scale
    state.delta_vec[i] = (delta_sum0 + coef_delta @ errors) / scale
    state.sigma[i] = sigma_sum / scale
    return _unit_rows(x_sums)


def low_rank_update(state: SBEState) -> np.ndarray:
    """The rank-k estimate sum_i sigma_i Delta-hat_i X-hat_i^T of the batch gradient, (a, b)."""
    return (state.delta_hat * state.sigma[:, None]).T @ state.x_hat

