"""Tiled super-resolution inside one TensorFlow graph, for SavedModel signatures.

`srim_sample` tiles large images in Python (`tiling.py`); a SavedModel served by TF Serving
has no Python around it, so its signatures tile in-graph: one image, one sample and one
tile at a time, each tile with `margin` LR pixels of real context per side (the receptive
field, plus back-projection's reach), cut off again after the model. Noise is addressed by
position (`noise.py`), so the tiles of an image agree and the result equals the untiled
one up to float rounding. Peak memory then depends on the tile size, not on the request:
only one tile's activations are alive at a time, beside the request's input and output.
"""

import tensorflow as tf

from srim_tf.inference.sampling import one_sample
from srim_tf.model.generator import SCALE


def _tile_of(generator, image, k, seed, noise_scale, offset, consistency_iterations,
             margin, tile, row, col):
    """Sample `k`'s 4x output of tile (row, col) of `image` `[1, h, w, 3]`."""
    height, width = tf.shape(image)[1], tf.shape(image)[2]
    y0, x0 = row * tile, col * tile
    y1, x1 = tf.minimum(y0 + tile, height), tf.minimum(x0 + tile, width)
    ya, xa = tf.maximum(y0 - margin, 0), tf.maximum(x0 - margin, 0)
    yb, xb = tf.minimum(y1 + margin, height), tf.minimum(x1 + margin, width)
    window = image[:, ya:yb, xa:xb]
    out = one_sample(generator, window, k, seed, noise_scale,
                     (offset[0] + ya, offset[1] + xa), consistency_iterations)
    return out[0, SCALE * (y0 - ya):SCALE * (y1 - ya), SCALE * (x0 - xa):SCALE * (x1 - xa)]


def _image_sample(generator, image, k, seed, noise_scale, offset, consistency_iterations,
                  margin, tile):
    """Sample `k` of one image `[1, h, w, 3]`, tile by tile: `[4h, 4w, 3]`."""
    height, width = tf.shape(image)[1], tf.shape(image)[2]
    rows, cols = (height + tile - 1) // tile, (width + tile - 1) // tile

    def one_row(row):
        def add_column(col, columns):
            out = _tile_of(generator, image, k, seed, noise_scale, offset,
                           consistency_iterations, margin, tile, row, col)
            # Stored transposed, so that `concat` (along axis 0) joins them side by side.
            return col + 1, columns.write(col, tf.transpose(out, [1, 0, 2]))

        columns = tf.TensorArray(tf.float32, size=cols, infer_shape=False,
                                 element_shape=tf.TensorShape([None, None, 3]))
        _, columns = tf.while_loop(lambda col, _: col < cols, add_column, (0, columns),
                                   parallel_iterations=1)
        return tf.transpose(columns.concat(), [1, 0, 2])

    def add_row(row, out_rows):
        return row + 1, out_rows.write(row, one_row(row))

    out_rows = tf.TensorArray(tf.float32, size=rows, infer_shape=False,
                              element_shape=tf.TensorShape([None, None, 3]))
    _, out_rows = tf.while_loop(lambda row, _: row < rows, add_row, (0, out_rows),
                                parallel_iterations=1)
    return out_rows.concat()


def tiled_super_resolve(generator, lr, num_samples, seed, noise_scale, offset=(0, 0),
                        consistency_iterations=0, *, margin, tile):
    """`sampling.super_resolve_with`, one image, sample and tile at a time.

    Args:
        generator, lr, num_samples, seed, noise_scale, offset, consistency_iterations: as
            `super_resolve_with` (lr float32 `[N, h, w, 3]` in [0, 1]).
        margin: LR context per side of a tile: at least the receptive field plus
            `consistency.context(consistency_iterations)` for seamless output.
        tile: tile side in LR pixels.

    Returns:
        float32 `[N, K, 4h, 4w, 3]`.
    """
    shape = tf.shape(lr)
    batch, height, width = shape[0], shape[1], shape[2]
    num_samples = tf.cast(num_samples, tf.int32)
    total = batch * num_samples

    def add(index, outputs):
        image = lr[index // num_samples][None]
        out = _image_sample(generator, image, index % num_samples, seed, noise_scale, offset,
                            consistency_iterations, margin, tile)
        return index + 1, outputs.write(index, out)

    outputs = tf.TensorArray(tf.float32, size=total, element_shape=tf.TensorShape([None, None, 3]))
    _, outputs = tf.while_loop(lambda index, _: index < total, add, (0, outputs),
                               parallel_iterations=1)
    return tf.reshape(outputs.stack(), [batch, num_samples, SCALE * height, SCALE * width, 3])
