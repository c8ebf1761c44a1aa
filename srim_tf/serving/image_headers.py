"""The size an encoded PNG or JPEG declares in its header, read without decoding it.

A small file may declare a huge image (a decompression bomb): reading the declared size
first lets a request be refused before any image is decoded.
"""

import tensorflow as tf

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"


def declared_size(data):
    """`[height, width]` int64 that an encoded PNG or JPEG declares, without decoding it.

    PNG: the IHDR chunk, first after the signature, holds width and height as big-endian
    uint32 at bytes 16-23. JPEG: `tf.io.extract_jpeg_shape` reads the frame header.
    Anything else: `[-1, -1]`.
    """
    # Padded so that slicing the first 24 bytes is safe on any string.
    head = tf.io.decode_raw(tf.strings.substr(data + b"\0" * 24, 0, 24), tf.uint8)
    head = tf.cast(head, tf.int64)
    is_png = tf.equal(tf.strings.substr(data + b"\0" * 16, 0, 16), PNG_SIGNATURE + b"\0\0\0\rIHDR")
    is_jpeg = tf.equal(tf.strings.substr(data + b"\0" * 3, 0, 3), JPEG_SIGNATURE)

    def big_endian(first):
        return ((head[first] * 256 + head[first + 1]) * 256 + head[first + 2]) * 256 + head[first + 3]

    return tf.case([(is_png, lambda: tf.stack([big_endian(20), big_endian(16)])),
                    (is_jpeg, lambda: tf.cast(tf.io.extract_jpeg_shape(data)[:2], tf.int64))],
                   default=lambda: tf.constant([-1, -1], tf.int64))


def declared_sizes(encoded):
    """`[N, 2]` int64: `declared_size` of each string of `encoded` `[N]`."""
    return tf.map_fn(declared_size, encoded, fn_output_signature=tf.TensorSpec([2], tf.int64))
