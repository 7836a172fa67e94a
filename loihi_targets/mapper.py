"""Core mapper: place the neurons of a layered spiking network on Loihi cores; count traffic and mesh hops.

Per-core limits of Loihi 1 (Davies et al. 2018, "Loihi: a neuromorphic manycore processor with on-chip
learning", IEEE Micro 38(1), Table 1 and the "Core" section):

=====================  ===========  ====================================================================
limit                  value        note
=====================  ===========  ====================================================================
compartments           1,024        a two-compartment (two-point) neuron uses 2
input axons            4,096        one per distinct presynaptic source that reaches the core
output axons           4,096        one per (neuron on the core, destination core) pair
synapse memory         128 KB       = 1,048,576 bits per core
cores per chip         128
=====================  ===========  ====================================================================

Synapse-memory cost model: a synapse costs ``weight_bits`` bits (Loihi's dense synapse encoding stores
the weight mantissa, 1-8 bits; the per-core 128 KB = 1 Mbit at 1 bit per synapse gives 128 x 1 Mi ~ 130 M
synapses per chip, the figure Davies et al. 2018 quote), plus ``overhead_bits_per_synapse`` (0 by
default; set e.g. 12-16 for a sparse format that stores an index per synapse). A neuron with fan-in F
needs F x (weight_bits + overhead) bits on its core.

Traffic model: Loihi sends one spike message from a neuron to every *core* that holds at least one of
its targets (an output axon per destination core; the destination core fans the spike out to its
synapses). So ``intercore_spikes = sum_u spikes_u x #(cores holding targets of u, other than u's
core)``. Spikes from external inputs (host) are not counted: they enter the mesh from outside.

Mesh: Loihi's 128 cores are placed here on an 8 (E-W) x 16 (N-S) grid of routers, one core per
position; chip k sits to the east of chip k-1 (the mesh extends "in 4 planar directions to other chips",
Davies et al. 2018). Cores are numbered along a serpentine (boustrophedon) path so that consecutive cores
are neighbours. Dimension-order routing: a message from (x1, y1) to (x2, y2) takes |x1 - x2| E-W hops
and |y1 - y2| N-S hops (the two have different energies in Davies et al. 2018, Table 2).

Two mappers:

- ``greedy``: layer by layer, neurons in index order, each layer starting on a fresh core; a core is
  filled until the next neuron would break a limit (the usual NxSDK/Lava-Loihi style).
- ``cluster``: SpiNeMap-style (Balaji et al. 2020, IEEE TCAD 39(1), "Mapping spiking neural networks to
  neuromorphic hardware"): cores are grown one at a time around the neurons with the most spike
  traffic to and from the core, then Kernighan-Lin / Fiduccia-Mattheyses passes (single-neuron moves,
  and swaps when the better core is full) lower the exact message count, and pairwise swaps of core
  positions shorten the hops of heavy core-to-core traffic. The refinement also runs from the greedy
  result and the better of the two partitions is returned, so ``cluster`` never sends more inter-core
  spikes than ``greedy``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from spiking_mcc.errors import DataError, HardwareLimitError, ModelError, ParameterError
from spiking_mcc.limits import LIMITS, check_seed

EXTERNAL = "input"  # `source` value meaning "external input from the host"
METHODS = ("greedy", "cluster")


@dataclass(frozen=True)
class CoreLimits:
    """Resources of one neuromorphic core and cores per chip (defaults: Loihi 1, Davies et al. 2018)."""

    compartments: int = 1024
    input_axons: int = 4096
    output_axons: int = 4096
    synapse_memory_bits: int = 128 * 1024 * 8
    cores_per_chip: int = 128
    overhead_bits_per_synapse: int = 0


@dataclass(frozen=True)
class MeshLayout:
    """Router grid of one chip: `columns` along E-W times `rows` along N-S, one core per router."""

    columns: int = 8
    rows: int = 16


LOIHI1_LIMITS = CoreLimits()
LOIHI1_MESH = MeshLayout()


@dataclass
class LayerSpec:
    """One population to map.

    neurons: population size; compartments_per_neuron: 1 (point) or 2 (two-point);
    connectivity: (neurons, n_source) dense or scipy.sparse matrix, nonzero = synapse (weights work);
    fan_in: synapses per neuron when no matrix is given (dense if equal to the source size, a contiguous
    window of the source otherwise; required for an external source); weight_bits: bits per weight;
    source: name of an earlier layer, "input" for external input, or None for "the previous layer"
    ("input" for the first); extra_sources: further (layer name, connectivity (neurons, n_source)) blocks
    from any layer, itself included (the context synapses of two-point units: lateral and from the
    other stream of the same layer).
    """

    name: str
    neurons: int
    fan_in: int | None = None
    connectivity: np.ndarray | sparse.spmatrix | None = None
    compartments_per_neuron: int = 1
    weight_bits: int = 8
    source: str | None = None
    extra_sources: tuple = ()

    def __post_init__(self):
        self.name = str(self.name)
        _check_int(self.neurons, "neurons", self.name, 1)
        _check_int(self.compartments_per_neuron, "compartments_per_neuron", self.name, 1)
        _check_int(self.weight_bits, "weight_bits", self.name, 1)
        if self.fan_in is not None:
            _check_int(self.fan_in, "fan_in", self.name, 1)
        if self.connectivity is not None:
            matrix = sparse.csr_matrix(self.connectivity)
            if matrix.ndim != 2 or matrix.shape[0] != self.neurons:
                raise ModelError(
                    f"layer '{self.name}': connectivity has shape {matrix.shape}, expected "
                    f"({self.neurons}, n_source)"
                )
            if not np.all(np.isfinite(matrix.data)):
                raise ModelError(f"layer '{self.name}': connectivity contains NaN/Inf")
            matrix.eliminate_zeros()
            self.connectivity = matrix
        extra = []
        for source, block in self.extra_sources:
            matrix = sparse.csr_matrix(block)
            if matrix.shape[0] != self.neurons:
                raise ModelError(f"layer '{self.name}': connectivity from '{source}' has {matrix.shape[0]} "
                                 f"rows, expected {self.neurons}")
            matrix.eliminate_zeros()
            extra.append((str(source), matrix))
        self.extra_sources = tuple(extra)


@dataclass(frozen=True)
class Mapping:
    """Result of `map_network`. Per-core arrays have length `cores_used`; core_xy[k] = (E-W column,
    N-S row) of core k on the global mesh; assignment[layer] = core index of every neuron."""

    method: str
    cores_used: int
    chips: int
    intercore_spikes: float
    hops_ew: float
    hops_ns: float
    assignment: dict[str, np.ndarray]
    core_xy: np.ndarray
    compartments_per_core: np.ndarray
    input_axons_per_core: np.ndarray
    output_axons_per_core: np.ndarray
    synapse_bits_per_core: np.ndarray
    limits: CoreLimits = field(default=LOIHI1_LIMITS)

    def summary(self) -> dict:
        """JSON-ready scalars and per-core usage."""
        return {
            "method": self.method,
            "cores_used": self.cores_used,
            "chips": self.chips,
            "intercore_spikes": self.intercore_spikes,
            "hops_ew": self.hops_ew,
            "hops_ns": self.hops_ns,
            "compartments_per_core": self.compartments_per_core.tolist(),
            "input_axons_per_core": self.input_axons_per_core.tolist(),
            "output_axons_per_core": self.output_axons_per_core.tolist(),
            "synapse_bytes_per_core": (self.synapse_bits_per_core / 8).tolist(),
        }


def _check_int(value, name: str, layer: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ModelError(f"layer '{layer}': {name} must be an integer >= {minimum}, got {value!r}")


# ---------------------------------------------------------------------------------------------------
# the network as one graph of sources (external inputs + neurons) and target neurons
# ---------------------------------------------------------------------------------------------------
@dataclass
class _Network:
    names: list[str]
    layer_of: np.ndarray  # (n_all,) layer index, -1 for external sources
    offsets: list[int]  # global id of each layer's first neuron
    post: sparse.csr_matrix  # (n_all, n_all) source -> target
    pre: sparse.csc_matrix  # same matrix, column access
    compartments: np.ndarray  # (n_all,) 0 for external
    synapse_bits: np.ndarray  # (n_all,)
    n_external: int


def _layer_matrix(layer: LayerSpec, n_source: int, external: bool) -> sparse.csr_matrix:
    if layer.connectivity is not None:
        if layer.connectivity.shape[1] != n_source and not external:
            raise ModelError(
                f"layer '{layer.name}': connectivity has {layer.connectivity.shape[1]} "
                f"columns but its source has {n_source} neurons"
            )
        return layer.connectivity
    fan_in = n_source if layer.fan_in is None else layer.fan_in
    if fan_in > n_source:
        raise ModelError(f"layer '{layer.name}': fan_in {fan_in} exceeds its source's {n_source} neurons")
    if fan_in == n_source:
        return sparse.csr_matrix(np.ones((layer.neurons, n_source), dtype=np.int8))
    # local receptive fields: neuron j sees a contiguous window of the source centred on j's position
    start = np.floor(np.arange(layer.neurons) * (n_source - fan_in) / max(layer.neurons - 1, 1))
    cols = (start.astype(np.int64)[:, None] + np.arange(fan_in)[None, :]).ravel()
    rows = np.repeat(np.arange(layer.neurons), fan_in)
    return sparse.csr_matrix((np.ones(rows.size, np.int8), (rows, cols)), shape=(layer.neurons, n_source))


def _check_size(layers: list[LayerSpec], limits: CoreLimits, max_chips: int, method: str) -> None:
    """Before any array is built: the network must fit `max_chips` chips (compartments, synapse memory;
    HardwareLimitError) and the mapper's own size limits (LIMITS; ParameterError)."""
    layers = [layer for layer in layers if isinstance(layer, LayerSpec)]
    sizes = {layer.name: layer.neurons for layer in layers}
    neurons = sum(sizes.values())
    external = [layer for i, layer in enumerate(layers)
                if (layer.source or (EXTERNAL if i == 0 else None)) == EXTERNAL]
    sources = sum(layer.connectivity.shape[1] if layer.connectivity is not None else (layer.fan_in or 0)
                  for layer in external)
    synapses, layer_bits = 0, []
    for i, layer in enumerate(layers):
        if layer.connectivity is not None:
            count = int(layer.connectivity.nnz)
        else:
            source = layer.source or (EXTERNAL if i == 0 else layers[i - 1].name)
            count = layer.neurons * (layer.fan_in if layer.fan_in is not None else sizes.get(source, 0))
        synapses += count
        layer_bits.append(count * (layer.weight_bits + limits.overhead_bits_per_synapse))
    cores = max_chips * limits.cores_per_chip
    need = {"compartments": 0, "synapse memory bits": 0}
    have = {"compartments": cores * limits.compartments,
            "synapse memory bits": cores * limits.synapse_memory_bits}
    for layer, bits in zip(layers, layer_bits):
        need["compartments"] += layer.neurons * layer.compartments_per_neuron
        need["synapse memory bits"] += bits
        for what in need:
            if need[what] > have[what]:
                raise HardwareLimitError(
                    f"layer '{layer.name}': the network up to this layer needs {need[what]:,} {what}, more "
                    f"than {cores} cores ({max_chips} chip(s) x {limits.cores_per_chip} cores) hold "
                    f"({have[what]:,}); raise max_chips")
    checks = [("mapper_neurons", "neurons and inputs", neurons + sources),
              ("mapper_synapses", "synapses", synapses)]
    if method == "cluster":
        checks.append(("mapper_cluster_neurons", "neurons", neurons))
    for limit, what, value in checks:
        bound = LIMITS[limit]
        if value > bound.maximum:
            raise ParameterError(f"map_network ({method}): {value:,} {what} is above the mapper's limit "
                                 f"{bound.maximum:,.0f}; limit: {bound.reason}")


def _build_network(layers: list[LayerSpec], limits: CoreLimits) -> _Network:
    if not layers:
        raise ModelError("map_network: no layers given")
    names = [layer.name for layer in layers]
    if len(set(names)) != len(names) or EXTERNAL in names:
        raise ModelError(f"map_network: layer names must be unique and not '{EXTERNAL}', got {names}")
    blocks = []  # (layer index, source kind/index, matrix)
    n_external = 0
    for i, layer in enumerate(layers):
        source = layer.source if layer.source is not None else (EXTERNAL if i == 0 else names[i - 1])
        if source == EXTERNAL:
            if layer.connectivity is None and layer.fan_in is None:
                raise ModelError(
                    f"layer '{layer.name}': external input needs fan_in or a connectivity matrix"
                )
            n_src = layer.connectivity.shape[1] if layer.connectivity is not None else layer.fan_in
            blocks.append((i, ("ext", n_external), _layer_matrix(layer, n_src, external=True)))
            n_external += n_src
        elif source in names[:i]:
            j = names.index(source)
            blocks.append((i, ("layer", j), _layer_matrix(layer, layers[j].neurons, external=False)))
        else:
            raise ModelError(
                f"layer '{layer.name}': source '{source}' is not an earlier layer or '{EXTERNAL}'"
            )
        for extra, matrix in layer.extra_sources:
            if extra not in names:
                raise ModelError(f"layer '{layer.name}': extra source '{extra}' is not a layer")
            j = names.index(extra)
            if matrix.shape[1] != layers[j].neurons:
                raise ModelError(f"layer '{layer.name}': connectivity from '{extra}' has {matrix.shape[1]} "
                                 f"columns but that layer has {layers[j].neurons} neurons")
            blocks.append((i, ("layer", j), matrix))
    offsets = list(n_external + np.concatenate([[0], np.cumsum([la.neurons for la in layers])[:-1]]))
    n_all = n_external + sum(la.neurons for la in layers)
    rows, cols = [], []
    for i, (kind, k), matrix in blocks:
        coo = matrix.tocoo()
        src_offset = k if kind == "ext" else offsets[k]
        rows.append(src_offset + coo.col.astype(np.int64))
        cols.append(offsets[i] + coo.row.astype(np.int64))
    rows_all, cols_all = np.concatenate(rows), np.concatenate(cols)
    post = sparse.csr_matrix((np.ones(rows_all.size, np.int8), (rows_all, cols_all)), shape=(n_all, n_all))
    post.sum_duplicates()
    post.data[:] = 1
    pre = post.tocsc()
    layer_of = np.full(n_all, -1)
    compartments = np.zeros(n_all, np.int64)
    synapse_bits = np.zeros(n_all, np.int64)
    fan_in = np.diff(pre.indptr)
    bits_per_synapse = np.zeros(n_all, np.int64)
    for i, layer in enumerate(layers):
        sl = slice(offsets[i], offsets[i] + layer.neurons)
        layer_of[sl] = i
        compartments[sl] = layer.compartments_per_neuron
        bits_per_synapse[sl] = layer.weight_bits + limits.overhead_bits_per_synapse
    synapse_bits[:] = fan_in * bits_per_synapse
    network = _Network(names, layer_of, offsets, post, pre, compartments, synapse_bits, n_external)
    _check_single_neurons(network, layers, limits, fan_in)
    return network


def _check_single_neurons(net: _Network, layers: list[LayerSpec], limits: CoreLimits, fan_in) -> None:
    """A neuron that alone breaks a per-core limit can never be mapped: say which layer and limit."""
    for i, layer in enumerate(layers):
        sl = slice(net.offsets[i], net.offsets[i] + layer.neurons)
        checks = (
            ("compartments per core", layer.compartments_per_neuron, limits.compartments),
            ("input axons per core (fan-in)", int(fan_in[sl].max()), limits.input_axons),
            ("synapse memory per core in bits", int(net.synapse_bits[sl].max()), limits.synapse_memory_bits),
        )
        for limit_name, value, limit in checks:
            if value > limit:
                raise HardwareLimitError(
                    f"layer '{layer.name}': one neuron needs {limit_name} = {value}; the limit is {limit}"
                )


# ---------------------------------------------------------------------------------------------------
# incremental core state
# ---------------------------------------------------------------------------------------------------
class _Cores:
    """Cores being filled. targets[u, c] = number of targets of source u on core c; everything the
    limits and the traffic need follows from it (input axons of c = sources with targets[:, c] > 0;
    output axons of c = sum over neurons u on c of the cores u reaches)."""

    def __init__(self, net: _Network, limits: CoreLimits, max_cores: int, weight: np.ndarray):
        self.net, self.limits, self.max_cores = net, limits, max_cores
        self.weight = weight  # spikes per source; 0 for external sources (not on-mesh traffic)
        n_all = net.layer_of.size
        capacity = min(16, max_cores)
        self.targets = np.zeros((n_all, capacity), np.int32)
        self.core_of = np.full(n_all, -1)
        self.compartments = np.zeros(capacity, np.int64)
        self.synapse_bits = np.zeros(capacity, np.int64)
        self.input_axons = np.zeros(capacity, np.int64)
        self.output_axons = np.zeros(capacity, np.int64)
        self.n_cores = 0

    def copy(self) -> _Cores:
        other = object.__new__(_Cores)
        other.__dict__.update(
            {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}
        )
        return other

    def open_core(self, layer_name: str) -> int:
        if self.n_cores >= self.max_cores:
            chips = self.max_cores // self.limits.cores_per_chip
            raise HardwareLimitError(
                f"layer '{layer_name}': the network needs more than {self.max_cores} cores "
                f"({chips} chip(s) x {self.limits.cores_per_chip} cores); raise max_chips"
            )
        if self.n_cores == self.targets.shape[1]:
            grow = min(2 * self.n_cores, self.max_cores) - self.n_cores
            self.targets = np.pad(self.targets, ((0, 0), (0, grow)))
            for name in ("compartments", "synapse_bits", "input_axons", "output_axons"):
                setattr(self, name, np.pad(getattr(self, name), (0, grow)))
        self.n_cores += 1
        return self.n_cores - 1

    def _pre(self, v: int) -> np.ndarray:
        pre = self.net.pre
        return pre.indices[pre.indptr[v] : pre.indptr[v + 1]]

    def violation(self, v: int, c: int) -> tuple | None:
        """None if unplaced neuron v fits on core c, else (limit name, value it would reach, limit, core)."""
        lim = self.limits
        comps = self.compartments[c] + self.net.compartments[v]
        if comps > lim.compartments:
            return "compartments", int(comps), lim.compartments, c
        bits = self.synapse_bits[c] + self.net.synapse_bits[v]
        if bits > lim.synapse_memory_bits:
            return "synapse memory bits", int(bits), lim.synapse_memory_bits, c
        pre = self._pre(v)
        new_sources = pre[self.targets[pre, c] == 0]
        axons_in = self.input_axons[c] + new_sources.size
        if axons_in > lim.input_axons:
            return "input axons", int(axons_in), lim.input_axons, c
        out = self._output_increase(v, c, new_sources)
        out += self.output_axons[: out.size]
        if out.size and out.max() > lim.output_axons:
            k = int(out.argmax())
            return f"output axons of core {k}", int(out[k]), lim.output_axons, k
        return None

    def _output_increase(self, v: int, c: int, new_sources: np.ndarray) -> np.ndarray:
        cores = self.core_of[new_sources]
        increase = np.bincount(cores[cores >= 0], minlength=self.n_cores).astype(np.int64)
        increase[c] += np.count_nonzero(self.targets[v, : self.n_cores])
        return increase

    def place(self, v: int, c: int) -> None:
        pre = self._pre(v)
        new_sources = pre[self.targets[pre, c] == 0]
        self.output_axons[: self.n_cores] += self._output_increase(v, c, new_sources)
        self.input_axons[c] += new_sources.size
        self.compartments[c] += self.net.compartments[v]
        self.synapse_bits[c] += self.net.synapse_bits[v]
        self.targets[pre, c] += 1
        self.core_of[v] = c

    def remove(self, v: int) -> int:
        c = int(self.core_of[v])
        pre = self._pre(v)
        self.targets[pre, c] -= 1
        lost = pre[self.targets[pre, c] == 0]
        cores = self.core_of[lost]
        self.output_axons[: self.n_cores] -= np.bincount(cores[cores >= 0], minlength=self.n_cores)
        self.output_axons[c] -= np.count_nonzero(self.targets[v, : self.n_cores])
        self.input_axons[c] -= lost.size
        self.compartments[c] -= self.net.compartments[v]
        self.synapse_bits[c] -= self.net.synapse_bits[v]
        self.core_of[v] = -1
        return c

    def insertion_cost(self, v: int) -> np.ndarray:
        """Inter-core spikes added by putting unplaced neuron v on each open core (vector over cores)."""
        k = self.n_cores
        pre = self._pre(v)
        pre = pre[self.core_of[pre] >= 0]  # an unplaced source has no messages yet
        w = self.weight[pre]
        cores = np.arange(k)
        new_message = (self.targets[pre, :k] == 0) & (self.core_of[pre][:, None] != cores[None, :])
        cost = w @ new_message
        own = self.targets[v, :k] > 0
        return cost + self.weight[v] * (np.count_nonzero(own) - own)

    def traffic(self) -> np.ndarray:
        """(cores, cores) spike messages from core a to core b != a."""
        k = self.n_cores
        placed = np.flatnonzero(self.core_of >= 0)
        reach = (self.targets[placed, :k] > 0) * self.weight[placed, None]
        source = np.zeros((k, placed.size))
        source[self.core_of[placed], np.arange(placed.size)] = 1.0
        matrix = source @ reach
        np.fill_diagonal(matrix, 0.0)
        return matrix


class _OutputOverflow(Exception):
    def __init__(self, core: int):
        self.core = core


def _greedy_fill(cores: _Cores, net: _Network, caps: dict[int, int]) -> None:
    for i, name in enumerate(net.names):
        neurons = np.flatnonzero(net.layer_of == i)
        current, on_current = cores.open_core(name), 0
        for v in neurons:
            if on_current < caps.get(i, neurons.size) and cores.violation(v, current) is None:
                cores.place(v, current)
                on_current += 1
                continue
            current, on_current = cores.open_core(name), 0
            problem = cores.violation(v, current)
            if problem is not None and problem[3] != current:
                raise _OutputOverflow(problem[3])
            if problem is not None:
                raise HardwareLimitError(
                    f"layer '{name}': neuron {v - net.offsets[i]} does not fit on an empty "
                    f"core: {problem[0]} would be {problem[1]}, limit {problem[2]}"
                )
            cores.place(v, current)
            on_current = 1


def _greedy(net: _Network, limits: CoreLimits, max_cores: int, weight: np.ndarray) -> _Cores:
    """Fill cores layer by layer. When the neurons of an earlier core reach too many destination cores
    (output axons), that layer is refilled with fewer neurons per core and the fill starts again."""
    caps: dict[int, int] = {}
    for _ in range(256):
        cores = _Cores(net, limits, max_cores, weight)
        try:
            _greedy_fill(cores, net, caps)
            return cores
        except _OutputOverflow as overflow:
            members = np.flatnonzero(cores.core_of == overflow.core)
            layer = int(net.layer_of[members[0]])
            if members.size <= 1:
                raise HardwareLimitError(
                    f"layer '{net.names[layer]}': one neuron reaches more than {limits.output_axons} cores "
                    f"(output axons limit {limits.output_axons})"
                ) from None
            caps[layer] = members.size - 1
    raise HardwareLimitError(
        "output-axon limits could not be met after 256 refills; the network is too "
        "densely connected for the core limits"
    )


def _cluster_construct(cores: _Cores, net: _Network, max_tries: int = 32) -> None:
    """Grow one core at a time: seed it with the first unplaced neuron (topological order), then keep
    adding the unplaced neuron with the most spike traffic to and from the core until nothing fits."""
    mapped = np.flatnonzero(net.layer_of >= 0)
    affinity = np.zeros(net.layer_of.size)
    unplaced = np.zeros(net.layer_of.size, bool)
    unplaced[mapped] = True
    post, pre, weight = net.post, net.pre, cores.weight
    current = -1
    while unplaced.any():
        placed_one = False
        if current >= 0:
            candidates = np.flatnonzero(unplaced & (affinity > 0))
            ranked = candidates[np.argsort(-affinity[candidates], kind="stable")][:max_tries]
            # then the next neurons in topological order: fill the core before opening another
            ranked = np.concatenate([ranked, np.flatnonzero(unplaced)[:max_tries]])
            for v in ranked:
                if cores.violation(v, current) is None:
                    placed_one = True
                    break
        if not placed_one:
            v = int(np.flatnonzero(unplaced)[0])
            layer = net.names[net.layer_of[v]]
            current = cores.open_core(layer)
            affinity[:] = 0.0
            problem = cores.violation(v, current)
            if problem is not None:
                raise HardwareLimitError(
                    f"layer '{layer}': neuron {v - net.offsets[net.layer_of[v]]} does not fit "
                    f"on an empty core: {problem[0]} would be {problem[1]}, limit {problem[2]}"
                )
        cores.place(int(v), current)
        unplaced[v] = False
        targets = post.indices[post.indptr[v] : post.indptr[v + 1]]
        sources = pre.indices[pre.indptr[v] : pre.indptr[v + 1]]
        affinity[targets] += weight[v]
        affinity[sources] += weight[sources]


def _try_swap(cores: _Cores, v: int, w: int) -> bool:
    """Swap the cores of v and w if that fits and lowers inter-core spikes (exact, step by step)."""
    a = cores.remove(v)
    removed_v = cores.insertion_cost(v)[a]
    b = cores.remove(w)
    removed_w = cores.insertion_cost(w)[b]
    if cores.violation(v, b) is None:
        added_v = cores.insertion_cost(v)[b]
        cores.place(v, b)
        if (
            cores.violation(w, a) is None
            and added_v + cores.insertion_cost(w)[a] < removed_v + removed_w - 1e-9
        ):
            cores.place(w, a)
            return True
        cores.remove(v)
    cores.place(w, b)
    cores.place(v, a)
    return False


def _refine(
    cores: _Cores,
    net: _Network,
    rng: np.random.Generator,
    max_passes: int = 4,
    swap_candidates: int = 4,
    min_relative_gain: float = 1e-3,
) -> None:
    """Kernighan-Lin / Fiduccia-Mattheyses passes: move a neuron to the core that lowers inter-core
    spikes most; when that core is full, try swapping it with a few neurons living there. Stops when
    a pass gains less than `min_relative_gain` of the message count."""
    mapped = np.flatnonzero(net.layer_of >= 0)
    before = cores.traffic().sum()
    for _ in range(max_passes):
        for v in rng.permutation(mapped):
            a = cores.remove(v)
            cost = cores.insertion_cost(v)
            better = np.flatnonzero(cost < cost[a] - 1e-9)
            better = better[np.argsort(cost[better], kind="stable")][:4]
            target = next((int(c) for c in better if cores.violation(v, c) is None), a)
            cores.place(v, target)
            if target != a or not better.size:
                continue
            residents = np.flatnonzero(cores.core_of == better[0])
            for w in rng.permutation(residents)[:swap_candidates]:
                if _try_swap(cores, int(v), int(w)):
                    break
        after = cores.traffic().sum()
        if before - after <= min_relative_gain * before:
            return
        before = after


def _compact(cores: _Cores) -> np.ndarray:
    """Cores that still hold neurons, in order (refinement can empty a core)."""
    return np.flatnonzero(cores.compartments[: cores.n_cores] > 0)


def _serpentine_xy(n_cores: int, mesh: MeshLayout) -> np.ndarray:
    per_chip = mesh.columns * mesh.rows
    k = np.arange(n_cores)
    chip, local = np.divmod(k, per_chip)
    row, col = np.divmod(local, mesh.columns)
    col = np.where(row % 2 == 1, mesh.columns - 1 - col, col)
    return np.stack([chip * mesh.columns + col, row], axis=1)


def _hop_matrices(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.abs(xy[:, None, 0] - xy[None, :, 0]).astype(float),
        np.abs(xy[:, None, 1] - xy[None, :, 1]).astype(float),
    )


def _improve_placement(traffic: np.ndarray, xy: np.ndarray, max_passes: int = 8) -> np.ndarray:
    """Pairwise swaps of core positions that lower sum traffic x (E-W + N-S hops); returns new xy."""
    weight = traffic + traffic.T
    xy = xy.copy()
    n = xy.shape[0]
    for _ in range(max_passes):
        improved = False
        for a in range(n):
            dew, dns = _hop_matrices(xy)
            dist = dew + dns
            # delta(b) of swapping a and b; the a-b edge keeps its length
            delta = ((weight[a][None, :] - weight) * (dist - dist[a][None, :])).sum(axis=1)
            delta += 2 * weight[a] * dist[a]
            delta[a] = 0.0
            b = int(np.argmin(delta))
            if delta[b] < -1e-9:
                xy[[a, b]] = xy[[b, a]]
                improved = True
        if not improved:
            break
    return xy


def _spike_weights(net: _Network, layers: list[LayerSpec], spikes_per_neuron) -> np.ndarray:
    weight = np.zeros(net.layer_of.size)
    if spikes_per_neuron is None:
        weight[net.layer_of >= 0] = 1.0
        return weight
    if isinstance(spikes_per_neuron, dict):
        unknown = set(spikes_per_neuron) - set(net.names)
        if unknown:
            raise ParameterError(
                f"spikes_per_neuron: unknown layer(s) {sorted(unknown)}; layers are {net.names}"
            )
        values = [spikes_per_neuron.get(name, 1.0) for name in net.names]
    else:
        values = list(spikes_per_neuron)
        if len(values) != len(layers):
            raise ParameterError(
                f"spikes_per_neuron: expected {len(layers)} entries (one per layer), got {len(values)}"
            )
    for i, (layer, value) in enumerate(zip(layers, values)):
        counts = (
            np.broadcast_to(np.asarray(value, dtype=float), (layer.neurons,))
            if np.ndim(value) == 0
            else np.asarray(value, dtype=float)
        )
        if counts.shape != (layer.neurons,):
            raise DataError(
                f"spikes_per_neuron for layer '{layer.name}': shape {counts.shape}, "
                f"expected ({layer.neurons},)"
            )
        if not np.all(np.isfinite(counts)) or np.any(counts < 0):
            raise DataError(f"spikes_per_neuron for layer '{layer.name}': values must be finite and >= 0")
        weight[net.offsets[i] : net.offsets[i] + layer.neurons] = counts
    return weight


def _result(
    cores: _Cores, net: _Network, method: str, mesh: MeshLayout, limits: CoreLimits, improve_placement: bool
) -> Mapping:
    keep = _compact(cores)
    renumber = np.full(cores.n_cores, -1)
    renumber[keep] = np.arange(keep.size)
    traffic = cores.traffic()[np.ix_(keep, keep)]
    xy = _serpentine_xy(keep.size, mesh)
    if improve_placement and keep.size > 1:
        xy = _improve_placement(traffic, xy)
    dew, dns = _hop_matrices(xy)
    assignment = {
        name: renumber[cores.core_of[net.offsets[i] : net.offsets[i] + int(np.sum(net.layer_of == i))]]
        for i, name in enumerate(net.names)
    }
    return Mapping(
        method=method,
        cores_used=int(keep.size),
        chips=int(math.ceil(keep.size / limits.cores_per_chip)),
        intercore_spikes=float(traffic.sum()),
        hops_ew=float((traffic * dew).sum()),
        hops_ns=float((traffic * dns).sum()),
        assignment=assignment,
        core_xy=xy,
        compartments_per_core=cores.compartments[keep].copy(),
        input_axons_per_core=cores.input_axons[keep].copy(),
        output_axons_per_core=cores.output_axons[keep].copy(),
        synapse_bits_per_core=cores.synapse_bits[keep].copy(),
        limits=limits,
    )


def map_network(
    layers: list[LayerSpec],
    spikes_per_neuron=None,
    method: str = "greedy",
    seed: int = 0,
    max_chips: int = 1,
    limits: CoreLimits = LOIHI1_LIMITS,
    mesh: MeshLayout = LOIHI1_MESH,
) -> Mapping:
    """Map `layers` onto Loihi cores.

    spikes_per_neuron: None (every neuron 1 spike: traffic follows connectivity), a list with one entry
    per layer, or a dict layer name -> entry; an entry is a scalar or an array (neurons,) of spikes per
    inference. method: "greedy" or "cluster". Raises HardwareLimitError (layer, limit, value) when a
    neuron or the network does not fit `max_chips` chips.
    """
    if method not in METHODS:
        raise ParameterError(f"map_network: method must be one of {list(METHODS)}, got {method!r}")
    if isinstance(max_chips, bool) or not isinstance(max_chips, (int, np.integer)) or max_chips < 1:
        raise ParameterError(f"map_network: max_chips must be an integer >= 1, got {max_chips!r}")
    if mesh.columns * mesh.rows != limits.cores_per_chip:
        raise ParameterError(
            f"mesh {mesh.columns}x{mesh.rows} does not hold {limits.cores_per_chip} cores per chip"
        )
    check_seed(seed)
    _check_size(list(layers), limits, max_chips, method)
    net = _build_network(list(layers), limits)
    weight = _spike_weights(net, list(layers), spikes_per_neuron)
    max_cores = max_chips * limits.cores_per_chip
    greedy = _greedy(net, limits, max_cores, weight)
    if method == "greedy":
        return _result(greedy, net, method, mesh, limits, improve_placement=False)
    rng = np.random.default_rng(seed)
    partitions = []
    clustered = _Cores(net, limits, max_cores, weight)
    try:
        _cluster_construct(clustered, net)
        _refine(clustered, net, rng)
        partitions.append(clustered)
    except HardwareLimitError:
        pass  # growing clusters can strand output axons; the refined greedy fill below always exists
    from_greedy = greedy.copy()
    _refine(from_greedy, net, rng)
    partitions.append(from_greedy)
    candidates = [_result(c, net, method, mesh, limits, improve_placement=True) for c in partitions]
    return min(candidates, key=lambda m: (m.intercore_spikes, m.cores_used, m.hops_ew + m.hops_ns))


# ---------------------------------------------------------------------------------------------------
# conveniences: plain weight shapes, the conversion IR
# ---------------------------------------------------------------------------------------------------
def layers_from_weights(
    weights: list, names: list[str] | None = None, compartments_per_neuron: int = 1, weight_bits: int = 8
) -> list[LayerSpec]:
    """A Dense chain from weight matrices (out, in) (zeros = no synapse) or shapes (out, in)."""
    names = names or [f"dense{i}" for i in range(len(weights))]
    if len(names) != len(weights):
        raise ModelError(f"layers_from_weights: {len(weights)} weights but {len(names)} names")
    layers = []
    for i, (name, w) in enumerate(zip(names, weights)):
        if isinstance(w, tuple):
            n_out, n_in = int(w[0]), int(w[1])
            layers.append(
                LayerSpec(
                    name,
                    n_out,
                    fan_in=n_in,
                    compartments_per_neuron=compartments_per_neuron,
                    weight_bits=weight_bits,
                )
            )
        else:
            matrix = w if sparse.issparse(w) else np.asarray(w)
            if i > 0 and matrix.shape[1] != layers[-1].neurons:
                raise ModelError(
                    f"layer '{name}': weight has {matrix.shape[1]} inputs but layer "
                    f"'{layers[-1].name}' has {layers[-1].neurons} neurons"
                )
            layers.append(
                LayerSpec(
                    name,
                    matrix.shape[0],
                    connectivity=matrix,
                    compartments_per_neuron=compartments_per_neuron,
                    weight_bits=weight_bits,
                )
            )
    return layers


def layers_from_graph(graph, weight_bits: int = 8) -> list[LayerSpec]:
    """LayerSpecs from a `conversion.ir.Graph` Dense/TwoPoint chain (ReLU, Flatten, BatchNorm skipped).

    A TwoPoint layer uses 2 compartments per neuron; as the first layer its external fan-in is receptive
    field plus context, later its receptive field comes from the previous layer (context not mapped)."""
    from conversion.ir import Conv2d, Dense, TwoPoint

    layers: list[LayerSpec] = []
    for name in graph.order:
        node = graph.nodes[name]
        if isinstance(node, Conv2d):
            raise ModelError(
                f"layer '{name}': the core mapper takes Dense/TwoPoint chains; Conv2d is not supported"
            )
        if isinstance(node, Dense):
            source = EXTERNAL if not layers else layers[-1].name
            layers.append(
                LayerSpec(
                    name,
                    node.weight.shape[0],
                    connectivity=node.weight,
                    weight_bits=weight_bits,
                    source=source,
                )
            )
        elif isinstance(node, TwoPoint) and not layers:
            fan_in = node.rf_weight.shape[1] + sum(w.shape[1] for w in node.context_weights.values())
            layers.append(
                LayerSpec(
                    name,
                    node.rf_weight.shape[0],
                    fan_in=fan_in,
                    compartments_per_neuron=2,
                    weight_bits=weight_bits,
                    source=EXTERNAL,
                )
            )
        elif isinstance(node, TwoPoint):  # receptive field from the previous layer; context inputs not mapped
            layers.append(
                LayerSpec(
                    name,
                    node.rf_weight.shape[0],
                    connectivity=node.rf_weight,
                    compartments_per_neuron=2,
                    weight_bits=weight_bits,
                    source=layers[-1].name,
                )
            )
    if not layers:
        raise ModelError("layers_from_graph: the graph has no Dense or TwoPoint layer")
    return layers


def map_cores(specs: list, spikes) -> dict:
    """Greedy core mapping of LayerSpecs with measured spikes per neuron (list or dict per layer)."""
    return map_network(specs, spikes_per_neuron=spikes, method="greedy").summary()
