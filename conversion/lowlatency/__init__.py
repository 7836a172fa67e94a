"""Low-latency conversion after Datta & Beerel 2022 (arXiv 2112.12133), docs/lowlatency.md: clipped-ReLU
training (:mod:`.clip_training`), the distribution-aware fit (:mod:`conversion.thresholds`), surrogate-
gradient fine-tuning through time (:mod:`.finetune`), export (:mod:`.export`) and the pipeline
(:mod:`.pipeline`)."""
