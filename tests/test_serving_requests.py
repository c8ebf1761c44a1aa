"""Requests to an exported SavedModel (`serving/requests.py`): a hostile request (bad rank,
channels, sizes, noise scale; an encoded file whose header declares billions of pixels) fails
alone with an error naming what is wrong, and the model goes on serving."""

import numpy as np
import pytest
import tensorflow as tf

from srim_tf.model.loading import load_generator
from srim_tf.serving import saved_model as export


@pytest.fixture(scope="module")
def served(trained_workdir, tmp_path_factory):
    generator = load_generator(trained_workdir).generator
    base = str(tmp_path_factory.mktemp("served") / "srim")
    path = export.export(generator, base, max_input_pixels=400, max_request_pixels=800)
    return tf.saved_model.load(path)


def _samples(model, images, num_samples=2, seed=3, noise_scale=1.0):
    return model.signatures["samples"](
        images=tf.constant(images), num_samples=tf.constant(num_samples, tf.int64),
        seed=tf.constant(seed, tf.int64), noise_scale=tf.constant(noise_scale, tf.float32))["samples"]


def _png(height, width):
    return tf.io.encode_png(np.full((height, width, 3), 90, np.uint8))


def _uint8(*shape):
    return np.full(shape, 120, np.uint8)


# (what is sent, a call on the loaded model, what the error must name)
BAD_REQUESTS = [
    ("rank 3", lambda m: _samples(m, _uint8(6, 5, 3)), "rank 4"),
    ("rank 5", lambda m: _samples(m, _uint8(1, 1, 6, 5, 3)), "rank 4"),
    ("9 channels", lambda m: _samples(m, _uint8(1, 6, 5, 9)), "3 channels"),
    ("1 channel", lambda m: m.signatures["serving_default"](images=_uint8(1, 6, 5, 1)), "3 channels"),
    ("no images", lambda m: _samples(m, _uint8(0, 6, 5, 3)), "at least one image"),
    ("0 pixels high", lambda m: _samples(m, _uint8(1, 0, 5, 3)), "at least one image"),
    ("image over max_input_pixels", lambda m: _samples(m, _uint8(1, 30, 30, 3), 1), "max_input_pixels"),
    ("num_samples 2^32+2", lambda m: _samples(m, _uint8(1, 6, 5, 3), 2 ** 32 + 2), "max_request_pixels"),
    ("num_samples 0", lambda m: _samples(m, _uint8(1, 6, 5, 3), 0), "num_samples must be >= 1"),
    ("num_samples -3", lambda m: _samples(m, _uint8(1, 6, 5, 3), -3), "num_samples must be >= 1"),
    ("images x samples x pixels over the bound",  # 4 x 3 x 100 = 1200 > 800
     lambda m: _samples(m, _uint8(4, 10, 10, 3), 3), "max_request_pixels"),
    ("encoded pixels over the bound",  # 3 x 400 = 1200 > 800
     lambda m: m.signatures["encoded"](encoded=tf.stack([_png(20, 20)] * 3)), "max_request_pixels"),
    ("noise_scale nan", lambda m: _samples(m, _uint8(1, 6, 5, 3), noise_scale=float("nan")), "noise_scale"),
    ("noise_scale inf", lambda m: _samples(m, _uint8(1, 6, 5, 3), noise_scale=float("inf")), "noise_scale"),
    ("noise_scale huge", lambda m: _samples(m, _uint8(1, 6, 5, 3), noise_scale=1e30), "noise_scale"),
    ("noise_scale negative", lambda m: _samples(m, _uint8(1, 6, 5, 3), noise_scale=-1.0), "noise_scale"),
    ("samples_at rank 3", lambda m: m.signatures["samples_at"](
        lr=tf.zeros((6, 5, 3)), num_samples=tf.constant(1), seed=tf.constant(0, tf.int64),
        noise_scale=tf.constant(1.0), offset=tf.constant([0, 0])), "rank 4"),
]


def test_bad_requests_fail_alone_with_a_clear_error_and_the_model_keeps_serving(served):
    image = (np.arange(2 * 6 * 5 * 3).reshape(2, 6, 5, 3) * 7 % 256).astype(np.uint8)
    before = _samples(served, image).numpy()
    assert before.shape == (2, 2, 24, 20, 3)
    for name, call, expected in BAD_REQUESTS:
        with pytest.raises(tf.errors.InvalidArgumentError) as caught:
            call(served)
        assert expected in caught.value.message, (name, caught.value.message[:500])
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError)):
        served.signatures["serving_default"](images=tf.zeros((1, 6, 5, 3), tf.float32))
    np.testing.assert_array_equal(_samples(served, image).numpy(), before)


def _png_declaring(height, width):
    """A PNG of a few dozen bytes whose IHDR declares height x width (8-bit RGB)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _jpeg_declaring(height, width):
    """A real 8x8 JPEG with its frame header (SOF0) patched to declare height x width."""
    data = bytearray(tf.io.encode_jpeg(np.full((8, 8, 3), 90, np.uint8)).numpy())
    sof = data.index(b"\xff\xc0")  # marker, length (2), precision (1), height (2), width (2)
    data[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def test_encoded_requests_are_checked_by_declared_size_before_any_decoding(served):
    good = _png(6, 5).numpy()
    before = served.signatures["encoded"](encoded=tf.stack([good]))["png"].numpy()
    cases = [  # (files, what the error must name); the bound is 400 pixels per image
        ([_png_declaring(100000, 100000)], "max_input_pixels=400"),
        ([good, _jpeg_declaring(65000, 65000)], "max_input_pixels=400"),
        ([_png_declaring(21, 20)], "max_input_pixels=400"),  # one row over: sizes are exact
        ([_png_declaring(0, 7)], "at least 1x1"),
        ([good, b"GIF89a" + b"\0" * 40], "must be PNG or JPEG files; image 1"),
        ([b""], "must be PNG or JPEG files; image 0"),
    ]
    for files, expected in cases:
        with pytest.raises(tf.errors.InvalidArgumentError) as caught:
            served.signatures["encoded"](encoded=tf.constant(files))
        assert expected in caught.value.message, (expected, caught.value.message[:500])
    # Declared sizes within the bounds pass the check: a JPEG, and PNG and JPEG together.
    jpeg = tf.io.encode_jpeg(np.full((20, 20, 3), 90, np.uint8))
    assert len(served.signatures["encoded"](encoded=tf.stack([jpeg, good]))["png"]) == 2
    np.testing.assert_array_equal(
        served.signatures["encoded"](encoded=tf.stack([good]))["png"].numpy(), before)
