"""NIR between spiking-mcc and snnTorch, Norse, sinabs, SpikingJelly (issue 14; docs/conversion.md, NIR).

Project -> library: the digits MLP and CNN, converted in the neuron mode each library runs, loaded by the
library from the project's model.nir; >= 99 % of its predictions on the 450 digits test samples agree
with the project engine. Library -> project: an SNN built and exported by snnTorch and by sinabs, imported
by the project; >= 99 % agreement with the library's own run.
"""

import nir
import numpy as np
import pytest
import torch
from libs import RUNNERS

AGREEMENT = 0.99


def _data(interop_dir):
    data = np.load(interop_dir / "data.npz")
    return torch.tensor(data["x_test"], dtype=torch.float32), data["y_test"]


@pytest.mark.parametrize("model", ["digits-mlp", "digits-cnn"])
@pytest.mark.parametrize("library", sorted(RUNNERS))
def test_library_runs_the_project_export(library, model, interop_dir, manifest):
    name = f"{model}-{library}"
    entry = manifest["models"][name]
    x, y = _data(interop_dir)
    out = RUNNERS[library](nir.read(interop_dir / f"{name}.nir"), x.reshape(len(x), *entry["input_shape"]),
                           manifest["timesteps"])
    theirs = out.argmax(axis=1)
    ours = np.load(interop_dir / f"{name}.engine.npz")["predictions"]
    agreement = float(np.mean(theirs == ours))
    print(f"{library} {model}: agreement {agreement:.4f}, accuracy {np.mean(theirs == y):.4f} "
          f"(engine {entry['accuracy']:.4f})")
    assert agreement >= AGREEMENT
    assert entry["accuracy"] > 0.9  # a network that classifies, not one that agrees by being silent


def _mlp_weights(interop_dir, library):
    graph = nir.read(interop_dir / f"digits-mlp-{library}.nir")
    affine = [graph.nodes[k] for k in ("fc1", "fc2")]
    return [(torch.tensor(a.weight, dtype=torch.float32), torch.tensor(a.bias, dtype=torch.float32))
            for a in affine]


def _linear(weight, bias):
    layer = torch.nn.Linear(weight.shape[1], weight.shape[0])
    layer.weight.data, layer.bias.data = weight.clone(), bias.clone()
    return layer


def _compare_import(tmp_path, interop_dir, project, graph, counts, membrane, steps, *options):
    nir.write(tmp_path / "library.nir", graph)
    np.savez(tmp_path / "readout.npz", counts=counts, membrane=membrane)
    project("import", tmp_path / "library.nir", tmp_path / "pred.npz", "--data", interop_dir / "data.npz",
            "--timesteps", steps, "--library-readout", tmp_path / "readout.npz", *options)
    result = np.load(tmp_path / "pred.npz")
    return float(np.mean(result["predictions"] == result["library"])), result


def test_project_imports_an_snntorch_export(tmp_path, interop_dir, project, manifest):
    """snnTorch Leaky(beta 0.9, reset by subtraction) -> LIF(tau = dt/(1-beta), r = tau/dt), v_reset 0."""
    import snntorch as snn
    from snntorch import utils
    from snntorch.export_nir import export_to_nir

    (w1, b1), (w2, b2) = _mlp_weights(interop_dir, "snntorch")
    def leaky(n, **kw):  # per-neuron beta/threshold: snnTorch writes scalars as 0-d arrays NIR cannot type
        return snn.Leaky(beta=torch.full((n,), 0.9), threshold=torch.ones(n), init_hidden=True, **kw)

    net = torch.nn.Sequential(_linear(w1, b1), leaky(len(b1)), _linear(w2, b2), leaky(len(b2), output=True))
    x, _ = _data(interop_dir)
    steps = manifest["timesteps"]
    graph = export_to_nir(net, x[:1], ignore_dims=[0])  # NIR types carry no batch axis
    utils.reset(net)
    current = []
    net[2].register_forward_hook(lambda module, inp, out: current.append(out.detach()))
    counts = 0.0
    with torch.no_grad():
        for _ in range(steps):
            spikes, _ = net(x)
            counts = counts + spikes
    membrane = torch.stack(current).sum(dim=0)
    assert {type(n).__name__ for n in graph.nodes.values()} >= {"LIF", "Affine"}
    agreement, _ = _compare_import(tmp_path, interop_dir, project, graph, counts.numpy(), membrane.numpy(),
                                   steps, "--reset", "subtract")
    print(f"snntorch -> spiking-mcc: agreement {agreement:.4f}")
    assert agreement >= AGREEMENT


def test_project_imports_a_sinabs_export(tmp_path, interop_dir, project, manifest):
    """sinabs IAF (reset by subtraction, one spike per step) -> IF(r = 1) with per-neuron thresholds."""
    import sinabs.layers as sl
    from sinabs import to_nir
    from sinabs.activation import SingleSpike

    (w1, b1), (w2, b2) = _mlp_weights(interop_dir, "sinabs")
    theta = 1.5  # thresholds other than 1: the weights scaled to match
    net = torch.nn.Sequential(_linear(w1 * theta, b1 * theta),
                              sl.IAF(spike_threshold=theta, spike_fn=SingleSpike),
                              _linear(w2, b2), sl.IAF(spike_threshold=theta, spike_fn=SingleSpike))
    x, _ = _data(interop_dir)
    steps = manifest["timesteps"]
    sequence = x.unsqueeze(1).expand(len(x), steps, x.shape[1])  # sinabs IAF: (batch, time, features)
    current = []
    net[2].register_forward_hook(lambda module, inp, out: current.append(out.detach()))
    with torch.no_grad():
        counts = net(sequence).sum(dim=1)
    membrane = current[0].sum(dim=1)
    graph = to_nir(net, sequence[:1, :1])  # sinabs writes the time axis into Input: (1, 64)
    for node in graph.nodes.values():  # sinabs writes torch tensors; nir.write needs numpy
        for key, value in vars(node).items():
            if isinstance(value, torch.Tensor):
                setattr(node, key, value.detach().numpy())
    assert any(isinstance(n, nir.IF) for n in graph.nodes.values())
    agreement, _ = _compare_import(tmp_path, interop_dir, project, graph, counts.numpy(), membrane.numpy(),
                                   steps, "--reset", "subtract")
    print(f"sinabs -> spiking-mcc: agreement {agreement:.4f}")
    assert agreement >= AGREEMENT
