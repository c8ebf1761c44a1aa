"""PNG files written band by band of rows (`data/image_io.write_png`) decode to the pixels given."""

import os

import numpy as np
import pytest
import tensorflow as tf

from srim_tf.data.image_io import write_png


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("sixteen_bit", [False, True])
def test_png_written_in_bands_decodes_to_the_same_pixels(tmp_path, channels, sixteen_bit):
    pixels = np.random.default_rng(channels).integers(0, 256, (150, 37, channels), dtype=np.uint8)
    write_png(str(tmp_path / "x.png"), pixels, sixteen_bit)
    decoded = tf.io.decode_png(tf.io.read_file(str(tmp_path / "x.png")), channels=0,
                               dtype=tf.uint16 if sixteen_bit else tf.uint8).numpy()
    np.testing.assert_array_equal(decoded, pixels.astype(np.uint16) * 257 if sixteen_bit else pixels)
    assert os.listdir(tmp_path) == ["x.png"]
