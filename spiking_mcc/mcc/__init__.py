"""The multisensory cooperative computing (MCC) network of two-point units and its point-neuron baseline."""
