"""Low-latency conversion after Datta & Beerel 2022 (arXiv 2112.12133), docs/lowlatency.md: clipped-ReLU
training (:mod:`.clip_training`), the distribution-aware fit (:mod:`conversion.thresholds`), surrogate-
gradient fine-tuning through time (:mod:`.finetune`) and export (:mod:`.export`). The whole pipeline
(data, the three stages, energy, files) is :mod:`spiking_mcc.lowlatency`, at the orchestration level,
where the device table of `loihi_targets` may be used."""
