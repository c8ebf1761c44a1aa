"""Data: image files and TensorFlow Datasets in, (LR, 2x, HR) training triples out.

`datasets` is the pipeline (`make_dataset`, `validation_triples`, the held-out split) built
from one module per idea: `sources` (the `--data` string, folders, the built-in photos),
`scan` (each file decoded once; what it cannot read is skipped and counted),
`tfds_source`, `patches` (crops, augmentation, the LR/mid/HR triple) and `degradations`.
`image_io` reads and writes image files (grey, alpha, 16-bit, streamed PNGs) and imports
nothing of the pipeline; `resize` is the MATLAB-convention bicubic that makes LR images
and that evaluation and back-projection share.
"""
