"""Inference: samples of a trained generator, of any size, reproducible by seed.

`noise` addresses every code value by position, so `sampling` gives the same samples
whatever the batch or tile; `tiling` runs large images tile by tile and band by band;
`consistency` back-projects outputs onto their input; `samplers` loads a generator from a
workdir, the shipped model or a SavedModel behind one interface; `outputs` builds what is
written beside samples (std maps, contact sheets, alpha). Imports nothing from training.
"""
