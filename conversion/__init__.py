"""ANN-to-SNN conversion: network IR, importers, thresholds, batched spiking engine, NIR export."""
