"""ANN-to-SNN conversion: network IR, importers, thresholds, batched spiking engine, NIR export.

Modules, in the order data flows through them:

- ``ir``: validated layer dataclasses, ``Graph`` and the converted ``SpikingNetwork``;
- ``importers``: ``load_model(path)`` for sequential-v1 .npz, mcc-v1 point baselines and ONNX; PyTorch
  ``nn.Sequential`` via ``importers.torch_import`` when torch is installed;
- ``reference_models``: small digits ANNs trained in numpy; ``importers.onnx_export`` writes ONNX;
- ``thresholds``: max / percentile / channel / distribution-aware thresholds -> ``convert(graph, x_calib)``;
- ``engine``: batched numpy IF simulation (``simulate``), ``fixed_point``: Loihi integer arithmetic;
- ``brian_engine``: the same network in Brian2; ``nir_export``: NIR HDF5 write/read;
- MCC networks: ``twopoint_unit`` (the spiking two-point unit, docs/twopoint_unit.md), ``twopoint_spiking``
  (graph checks, unit layout, calibration), ``mcc_hardware`` (unit populations, float or Loihi integers),
  ``mcc_engine`` / ``mcc_brian`` (batched engine, Brian2), ``mcc_pipeline`` (``convert`` for MCC files);
- ``pipeline``: ``convert_and_evaluate`` (the ``spiking-mcc convert`` command).
"""
