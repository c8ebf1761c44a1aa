"""Data: image files and TensorFlow Datasets in, (LR, 2x, HR) training triples out.

`datasets` reads folders, TFDS and the built-in photos (skipping and counting what it cannot
read), cuts crops and holds out validation images; `image_io` reads and writes image files
(grey, alpha, 16-bit, streamed PNGs); `resize` is the MATLAB-convention bicubic that makes
LR images and that evaluation and back-projection share.
"""
