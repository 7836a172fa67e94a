"""The spiking-mcc (Python 3.10) side of `make interop` (docs/conversion.md, "NIR"); talks through files.

export OUT: the digits MLP and CNN (seed 0) converted in each library's neuron mode, written as NIR
(OUT/<model>-<library>.nir), with the test data (OUT/data.npz), the engine's predictions
(OUT/<model>-<library>.engine.npz) and OUT/manifest.json.
import NIR PRED.npz: a NIR file written by another library, simulated by the engine as given
(--timesteps, --dt, --reset), predictions written to PRED.npz ("predictions"); with --library-readout
LIB.npz (that library's output spike counts and summed output-layer current, arrays "counts" and
"membrane") also "library": its predictions under the engine's rule (counts, ties broken by the current).
"""

from __future__ import annotations

import argparse
from pathlib import Path

TIMESTEPS = 16
# library -> (conversion options, pooling written): the neuron mode the library runs a NIR file in.
# Every mode starts the membrane at 0 (NIR cannot state another start).
LIBRARIES = {
    "snntorch": (dict(reset="zero", leak=0.05), "avg"),  # LIF, snnTorch's dt: beta 0.95, reset to zero
    "norse": (dict(reset="zero"), "sum"),                # IF reset to v_reset = 0; SumPool2d only
    "sinabs": (dict(reset="subtract"), "sum"),           # IF reset by subtraction; SumPool2d only
    "spikingjelly": (dict(reset="zero"), "avg"),         # IF reset to v_reset = 0; AvgPool2d only
}


def export(out: Path) -> None:
    from conversion import engine
    from conversion.nir_export import write_nir
    from conversion.reference_models import train_reference
    from conversion.thresholds import convert
    from spiking_mcc.data.digits import load_digits_split
    from spiking_mcc.io import ensure_dir, save_npz, write_json

    ensure_dir(out)
    split = load_digits_split(seed=0)
    save_npz(out / "data.npz", x_test=split.x_test, y_test=split.y_test, x_train=split.x_train,
             y_train=split.y_train)
    manifest = {"timesteps": TIMESTEPS, "models": {}}
    for kind in ("digits-mlp", "digits-cnn"):
        graph, _ = train_reference(kind, seed=0)
        for library, (options, pool) in LIBRARIES.items():
            net = convert(graph, split.x_train, "distribution", timesteps=TIMESTEPS,
                          init_membrane_fraction=0.0, **options)  # NIR cannot state another start
            name = f"{kind}-{library}"
            lossy = write_nir(net, out / f"{name}.nir", exact=options["reset"] == "zero", pool=pool)
            result = engine.simulate(net, split.x_test, TIMESTEPS)[0]
            save_npz(out / f"{name}.engine.npz", predictions=result.predictions)
            manifest["models"][name] = {"input_shape": list(graph.inputs["input"]), "options": options,
                                        "lossy": lossy, "accuracy": result.accuracy(split.y_test)}
    write_json(out / "manifest.json", manifest)


def import_(path: Path, predictions: Path, data: Path, timesteps: int, dt: float | None, reset: str | None,
            library_readout: Path | None) -> None:
    from conversion import engine
    from conversion.importers.nir_import import read_nir_network
    from spiking_mcc.io import load_npz, save_npz

    x = load_npz(data, ("x_test",))["x_test"]
    net = read_nir_network(path, dt=dt, reset=reset).net
    result = engine.simulate(net, x, timesteps)[0]
    library = {}
    if library_readout is not None:
        theirs = load_npz(library_readout, ("counts", "membrane"))
        library["library"] = engine.predict_from_readout(theirs["membrane"], theirs["counts"])
    save_npz(predictions, predictions=result.predictions, **library)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_export = sub.add_parser("export")
    p_export.add_argument("out", type=Path)
    p_import = sub.add_parser("import")
    p_import.add_argument("nir", type=Path)
    p_import.add_argument("predictions", type=Path)
    p_import.add_argument("--timesteps", type=int, default=TIMESTEPS)
    p_import.add_argument("--dt", type=float, default=None)
    p_import.add_argument("--reset", choices=("subtract", "zero"), default=None)
    p_import.add_argument("--data", type=Path, required=True, help="data.npz written by export")
    p_import.add_argument("--library-readout", type=Path, default=None)
    args = parser.parse_args()
    if args.command == "export":
        export(args.out)
    else:
        import_(args.nir, args.predictions, args.data, args.timesteps, args.dt, args.reset,
                args.library_readout)


if __name__ == "__main__":
    main()
