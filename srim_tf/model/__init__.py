"""The networks: the SRIM generator, the VGG feature trunk, and where trained weights live.

`generator` builds the two 2x stages from `layers` (weight-normalised and concatenating
convolutions, dynamic bilinear upsampling); `features` is the VGG19 trunk of pre-activations;
`precision` runs a model at another precision on the same weights; `checkpoints` and
`pretrained` read and write trained generators (workdirs, checkpoints, the shipped models),
and `loading.load_generator` reads any of them, or a SavedModel, by one name.
Every model takes its precision as a `dtype` argument; nothing here sets a global policy.
"""
