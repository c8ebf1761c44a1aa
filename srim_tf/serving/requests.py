"""The bounds a served request must keep, checked in-graph before any work is done.

A bad request fails alone with an InvalidArgument naming what is accepted: images of rank
4 with 3 channels and at least one pixel, at most `max_input_pixels` (H * W) per image,
`num_samples` >= 1, a finite `noise_scale` in [0, 10], and a total work N * K * H * W
(images x samples x pixels; the sum of H * W for encoded files, as their headers declare
it) of at most `max_request_pixels`, which bounds the memory one request can take.

Every condition is safe to evaluate on any input (the graph may run them in any order);
the first wrong one, as a message ("" if none), guards all model work through `after`.
"""

import math

import tensorflow as tf

from srim_tf.checks import MAX_NOISE_SCALE
from srim_tf.settings import MAX_REQUEST_PIXELS_LIMIT


def check_export_bounds(noise_scale, max_input_pixels, max_request_pixels):
    """Raises `ValueError` naming the first bound an export could not enforce."""
    if not 1 <= int(max_request_pixels) <= MAX_REQUEST_PIXELS_LIMIT:
        raise ValueError(f"max_request_pixels must be in [1, {MAX_REQUEST_PIXELS_LIMIT}]."
                         f" Received: max_request_pixels={max_request_pixels}")
    if not (math.isfinite(noise_scale) and 0 <= noise_scale <= MAX_NOISE_SCALE):
        raise ValueError(f"noise_scale must be a finite number in [0, {MAX_NOISE_SCALE:g}]."
                         f" Received: noise_scale={noise_scale}")
    if not 1 <= int(max_input_pixels):
        raise ValueError(f"max_input_pixels must be >= 1. Received: max_input_pixels={max_input_pixels}")


def _first_problem(problems):
    """The message of the first `(is wrong, template, values)` that is wrong; "" if none."""
    message = tf.constant("")
    for wrong, template, values in reversed(problems):
        message = tf.where(wrong, tf.strings.format(template, values, summarize=-1), message)
    return message


def request_error(images, num_samples, noise_scale, max_input_pixels, max_request_pixels):
    """The first problem of an images request, as a message; "" if there is none.

    Args:
        images: the request's images, any rank and dtype.
        num_samples, noise_scale: the request's scalars.
        max_input_pixels, max_request_pixels: int64 bounds recorded at export.
    """
    shape = tf.shape(images, out_type=tf.int64)
    padded = tf.concat([shape, tf.zeros([4], tf.int64)], 0)  # Indexable at any rank.
    batch, height, width, channels = padded[0], padded[1], padded[2], padded[3]
    num_samples = tf.cast(num_samples, tf.int64)
    # In float64: a product of int64s could overflow and pass.
    work = tf.reduce_prod(tf.cast([batch, num_samples, height, width], tf.float64))
    return _first_problem([
        (tf.not_equal(tf.size(shape), 4),
         "images must be a batch of shape [N, H, W, 3] (rank 4). Received shape: {}", shape),
        (tf.not_equal(channels, 3), "images must have 3 channels (RGB). Received shape: {}", shape),
        (tf.reduce_any([batch < 1, height < 1, width < 1]),
         "images must hold at least one image of at least 1x1 pixels. Received shape: {}", shape),
        (height * width > max_input_pixels,
         "Input image too large: height * width must not exceed max_input_pixels={} (the"
         " limit recorded at export); tile it on the client. Received shape: {}",
         [max_input_pixels, shape]),
        (num_samples < 1, "num_samples must be >= 1. Received: {}", num_samples),
        (work > tf.cast(max_request_pixels, tf.float64),
         "Request too large: images x num_samples x height x width must not exceed"
         " max_request_pixels={} (the limit recorded at export); send fewer images or"
         " samples per request. Received: {}", [max_request_pixels, work]),
        (tf.logical_not(tf.math.is_finite(noise_scale) & (noise_scale >= 0.0)
                        & (noise_scale <= MAX_NOISE_SCALE)),
         f"noise_scale must be a finite number in [0, {MAX_NOISE_SCALE:g}]. Received: {{}}",
         noise_scale),
    ])


def encoded_request_error(encoded, sizes, max_input_pixels, max_request_pixels):
    """The first problem of an encoded-files request, as a message; "" if there is none.

    Args:
        encoded: the request's strings `[N]`.
        sizes: `[N, 2]` the sizes they declare (`image_headers.declared_sizes`).
        max_input_pixels, max_request_pixels: int64 bounds recorded at export.
    """
    height, width = tf.cast(sizes[:, 0], tf.float64), tf.cast(sizes[:, 1], tf.float64)
    pixels = height * width  # In float64: a product of int64s could overflow and pass.
    return _first_problem([
        (tf.equal(tf.size(encoded), 0), "encoded must hold at least one image. Received: {}"
         " images", tf.size(encoded)),
        (tf.reduce_any(sizes[:, 0] < 0), "encoded images must be PNG or JPEG files; image {}"
         " of the request is neither (its first bytes are not a PNG or JPEG signature)",
         tf.argmin(tf.concat([sizes[:, 0], [0]], 0))),  # safe on an empty request too
        (tf.reduce_any(pixels < 1), "encoded images must be at least 1x1 pixels. Received"
         " declared sizes (height, width): {}", sizes),
        (tf.reduce_any(pixels > tf.cast(max_input_pixels, tf.float64)),
         "Input image too large: height * width must not exceed max_input_pixels={} (the limit"
         " recorded at export); tile it on the client. Received declared sizes (height,"
         " width): {}", [max_input_pixels, sizes]),
        (tf.reduce_sum(pixels) > tf.cast(max_request_pixels, tf.float64),
         "Request too large: the images' height x width summed must not exceed"
         " max_request_pixels={} (the limit recorded at export). Received: {}",
         [max_request_pixels, tf.reduce_sum(pixels)]),
    ])


def float_images_error(lr):
    """"" if float images `lr` hold finite values in [0, 1], else the message: NaN or
    infinite pixels would silently become NaN samples."""
    valid = tf.reduce_all(tf.math.is_finite(lr) & (lr >= 0.0) & (lr <= 1.0))
    return tf.where(valid, "", "lr must hold finite values in [0, 1]")


def after(message, *tensors):
    """`tensors`, usable only once `message` is empty (else InvalidArgument with it)."""
    check = tf.debugging.Assert(tf.equal(message, ""), [message])
    with tf.control_dependencies([check]):
        return [tf.identity(tensor) for tensor in tensors]
