"""Run a set of training configs on one data set and write sbe.json, models and figures."""

from __future__ import annotations

import os

from spiking_mcc.interrupts import check_interrupted
from spiking_mcc.io import ensure_dir, write_json
from spiking_mcc.sbe import figures, mlp
from spiking_mcc.sbe.trainer import TrainConfig, check_ranks, train_mlp


def run_comparison(dataset, configs: list[TrainConfig], out_dir: str | os.PathLike, data_name: str = "",
                   progress: bool = True) -> dict:
    """Train every config on `dataset` (fields x_train, y_train, x_test, y_test, n_classes) and write
    OUT/sbe.json (returned), OUT/models/<method>_b<batch>[_k<rank>].npz (sequential-v1),
    OUT/accuracy_vs_epoch.png and OUT/accuracy_vs_writes.png. Ranks are checked before any training."""
    n_inputs, n_classes = int(dataset.x_train.shape[1]), int(dataset.n_classes)
    check_ranks(configs, n_inputs, n_classes)
    out = ensure_dir(out_dir)
    models = ensure_dir(out / "models")
    runs = []
    for config in configs:
        check_interrupted()
        result = train_mlp(dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test, config,
                           n_classes=n_classes, progress=progress)
        record = result.summary()
        name = f"{config.method}_b{config.effective_batch}" + (
            f"_k{config.rank}" if config.effective_rank is not None else "")
        record["model"] = str(mlp.save_sequential(models / f"{name}.npz", result.weights).relative_to(out))
        runs.append(record)
    device = configs[0].device if configs else None
    report = {
        "command": "sbe",
        "data": data_name,
        "sizes": [n_inputs, *configs[0].hidden, n_classes] if configs else [],
        "seed": configs[0].seed if configs else None,
        "device": None if device is None else {"levels": device.levels, "write_noise": device.write_noise,
                                               "w_max": device.w_max},
        "device_writes_unit": "rank-1 outer-product crossbar writes, summed over layers",
        "state_floats_unit": "persistent update memory in floats, summed over layers",
        "runs": runs,
    }
    write_json(out / "sbe.json", report)
    figures.plot_accuracy_vs_epoch(runs, out / "accuracy_vs_epoch.png")
    figures.plot_accuracy_vs_writes(runs, out / "accuracy_vs_writes.png")
    return report
