"""Loihi-style fixed-point form of converted networks, one idea per module (docs/loihi.md):

- :mod:`.arithmetic`: Loihi's integer arithmetic (the bit widths, shifts and one LIF step, bit-exact
  with Lava 0.10.0's ``fixed_pt`` models);
- :mod:`.network`: the integer network dataclasses and the decoding of the output;
- :mod:`.simulate`: the batched fixed-point engine;
- :mod:`.float_reference`: the real-valued chain and its Lava ``floating_pt`` reference engine;
- :mod:`.lowering`: a converted network (Dense, Conv2d, average pooling, Flatten between ReLU
  populations) -> that real-valued chain;
- :mod:`.limits`: the Loihi parameter limits and the worst-case range checks;
- :mod:`.quantiser`: real-valued chain -> integers within those limits;
- :mod:`.arrays`: plain-array form for .npz files and the Lava child (no pickle).

It lives in the conversion stage because the conversion engine's fixed mode runs it and conversion must
not import ``loihi_targets`` (docs/architecture.md); ``loihi_targets.quantize`` adds the per-core
resource checks of the Loihi mapper.
"""
