"""A SavedModel that TF Serving loads: signatures a client calls without our code.

Signatures (method `tensorflow/serving/predict`):
    serving_default  images uint8 [N, H, W, 3] -> images uint8 [N, 4H, 4W, 3], at the noise
                     scale chosen at export (default 0: the deterministic output)
    samples          images, num_samples int64, seed int64, noise_scale float
                     -> samples uint8 [N, K, 4H, 4W, 3], reproducible for a given seed
    encoded          encoded PNG/JPEG strings [N] -> PNG strings [N] (REST clients, base64);
                     the sizes the files declare in their headers are checked before any
                     is decoded, so a small file declaring a huge image is refused unread
    samples_at       float images in [0, 1], num_samples, seed, noise_scale, offset [2]
                     -> float samples; used by our tiled inference on large images
The generator computes in the precision chosen at export (`precision`, recorded in the
SavedModel as a string variable); every signature's inputs and outputs keep their dtypes.
Every request is checked before any work is done, and a bad one fails alone with an
InvalidArgument naming what is accepted: images of rank 4 with 3 channels and at least one
pixel, at most `max_input_pixels` (H * W) per image, `num_samples` >= 1, a finite
`noise_scale` in [0, 10], and a total work N * K * H * W (images x samples x pixels; the
sum of H * W for `encoded`) of at most `max_request_pixels`, which bounds the memory one
request can take. Image inputs are declared with unknown rank so that the checks run:
TF Serving does not check shapes itself, and a known rank would let the graph optimizer
fold the rank check away.
"""

import math
import os
import shutil

import tensorflow as tf
from absl import logging

from srim_tf.inference import consistency
from srim_tf import checks
from srim_tf.checks import MAX_NOISE_SCALE
from srim_tf.model.precision import INFERENCE_PRECISIONS, in_precision
from srim_tf.inference.graph_tiling import tiled_super_resolve

_IMAGES = tf.TensorSpec(None, tf.uint8, name="images")
# LR tile side of in-graph tiling: 128 (512 x 512 outputs) keeps a tile's activations
# near 0.1 GB at 48 channels (benchmarks/serving_memory.py).
DEFAULT_TILE_SIZE = 128
# num_samples is cast to int32 for the model, so the work bound must keep it below 2^31.
MAX_REQUEST_PIXELS_LIMIT = 2 ** 31 - 1


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"


def declared_size(data):
    """`[height, width]` int64 that an encoded PNG or JPEG declares, without decoding it.

    PNG: the IHDR chunk, first after the signature, holds width and height as big-endian
    uint32 at bytes 16-23. JPEG: `tf.io.extract_jpeg_shape` reads the frame header.
    Anything else: `[-1, -1]`.
    """
    # Padded so that slicing the first 24 bytes is safe on any string.
    head = tf.io.decode_raw(tf.strings.substr(data + b"\0" * 24, 0, 24), tf.uint8)
    head = tf.cast(head, tf.int64)
    is_png = tf.equal(tf.strings.substr(data + b"\0" * 16, 0, 16), _PNG_SIGNATURE + b"\0\0\0\rIHDR")
    is_jpeg = tf.equal(tf.strings.substr(data + b"\0" * 3, 0, 3), _JPEG_SIGNATURE)

    def big_endian(first):
        return ((head[first] * 256 + head[first + 1]) * 256 + head[first + 2]) * 256 + head[first + 3]

    return tf.case([(is_png, lambda: tf.stack([big_endian(20), big_endian(16)])),
                    (is_jpeg, lambda: tf.cast(tf.io.extract_jpeg_shape(data)[:2], tf.int64))],
                   default=lambda: tf.constant([-1, -1], tf.int64))


class ServingModule(tf.Module):
    """Wraps a generator with the serving signatures.

    Args:
        generator: a trained `SRIMGenerator`.
        noise_scale: noise scale of `serving_default` and `encoded`.
        max_input_pixels: largest accepted H * W of one input image.
        receptive_field: LR context per side, recorded for tiled clients.
        max_request_pixels: largest accepted N * K * H * W of one request.
        consistency_iterations: passes of back-projection of every output onto its input
            (`consistency.py`; 0: off). The recorded receptive field grows to match.
        precision: what the generator computes in (`precision.INFERENCE_PRECISIONS`),
            recorded as `precision`; inputs and outputs keep their dtypes, and
            back-projection stays in float32.
        tile_size: LR side of the tiles every request is computed in (`graph_tiling.py`),
            recorded as `tile_size`: it, not the request, sets the model's peak memory.
    """

    def __init__(self, generator, noise_scale=0.0, max_input_pixels=1024 * 1024, receptive_field=16,
                 max_request_pixels=1024 * 1024, consistency_iterations=0, precision="float32",
                 tile_size=DEFAULT_TILE_SIZE):
        super().__init__()
        checks.check_choice("precision", precision, INFERENCE_PRECISIONS)
        if not 1 <= int(max_request_pixels) <= MAX_REQUEST_PIXELS_LIMIT:
            raise ValueError(f"max_request_pixels must be in [1, {MAX_REQUEST_PIXELS_LIMIT}]."
                             f" Received: max_request_pixels={max_request_pixels}")
        if not (math.isfinite(noise_scale) and 0 <= noise_scale <= MAX_NOISE_SCALE):
            raise ValueError(f"noise_scale must be a finite number in [0, {MAX_NOISE_SCALE:g}]."
                             f" Received: noise_scale={noise_scale}")
        if not 1 <= int(max_input_pixels):
            raise ValueError(f"max_input_pixels must be >= 1. Received: max_input_pixels={max_input_pixels}")
        self.generator = generator
        # A plain object (not tracked): it computes on `generator`'s variables, saved once.
        self._computing = in_precision(generator, precision)
        self.precision = tf.Variable(precision, trainable=False, name="precision")
        self.consistency_iterations = int(consistency_iterations)
        # Recorded, so that a client does not back-project these outputs a second time.
        self.consistency_record = tf.Variable(self.consistency_iterations, trainable=False,
                                              name="consistency_iterations")
        receptive_field = int(receptive_field) + consistency.context(self.consistency_iterations)
        # Keras 3 variables wrap tf.Variables; TF1-style loaders (TF Serving's C++ loader,
        # `saved_model_cli run`) restore only tf.Variables tracked directly, as
        # keras.export.ExportArchive also does.
        self.tf_variables = [variable.value for variable in generator.variables]
        self.noise_scale = tf.Variable(float(noise_scale), trainable=False, name="noise_scale")
        self.max_input_pixels = tf.Variable(int(max_input_pixels), dtype=tf.int64,
                                            trainable=False, name="max_input_pixels")
        self.receptive_field = tf.Variable(int(receptive_field), trainable=False, name="receptive_field")
        self.max_request_pixels = tf.Variable(int(max_request_pixels), dtype=tf.int64,
                                              trainable=False, name="max_request_pixels")
        if not 1 <= int(tile_size):
            raise ValueError(f"tile_size must be >= 1. Received: tile_size={tile_size}")
        self.tile_size = tf.Variable(int(tile_size), trainable=False, name="tile_size")

    def _request_error(self, images, num_samples, noise_scale):
        """The first problem of a request, as a message; "" if there is none.

        Every condition is safe to evaluate on any input (the graph may run them in any
        order), and one Assert on the result guards all model work (see `_sample`).
        """
        shape = tf.shape(images, out_type=tf.int64)
        padded = tf.concat([shape, tf.zeros([4], tf.int64)], 0)  # Indexable at any rank.
        batch, height, width, channels = padded[0], padded[1], padded[2], padded[3]
        num_samples = tf.cast(num_samples, tf.int64)
        # In float64: a product of int64s could overflow and pass.
        work = tf.reduce_prod(tf.cast([batch, num_samples, height, width], tf.float64))
        problems = [  # (is wrong, message), the first wrong one is reported
            (tf.not_equal(tf.size(shape), 4),
             "images must be a batch of shape [N, H, W, 3] (rank 4). Received shape: {}", shape),
            (tf.not_equal(channels, 3), "images must have 3 channels (RGB). Received shape: {}", shape),
            (tf.reduce_any([batch < 1, height < 1, width < 1]),
             "images must hold at least one image of at least 1x1 pixels. Received shape: {}", shape),
            (height * width > self.max_input_pixels,
             "Input image too large: height * width must not exceed max_input_pixels={} (the"
             " limit recorded at export); tile it on the client. Received shape: {}",
             [self.max_input_pixels, shape]),
            (num_samples < 1, "num_samples must be >= 1. Received: {}", num_samples),
            (work > tf.cast(self.max_request_pixels, tf.float64),
             "Request too large: images x num_samples x height x width must not exceed"
             " max_request_pixels={} (the limit recorded at export); send fewer images or"
             " samples per request. Received: {}", [self.max_request_pixels, work]),
            (tf.logical_not(tf.math.is_finite(noise_scale) & (noise_scale >= 0.0)
                            & (noise_scale <= MAX_NOISE_SCALE)),
             f"noise_scale must be a finite number in [0, {MAX_NOISE_SCALE:g}]. Received: {{}}",
             noise_scale),
        ]
        message = tf.constant("")
        for wrong, template, values in reversed(problems):
            message = tf.where(wrong, tf.strings.format(template, values, summarize=-1), message)
        return message

    @staticmethod
    def _after(message, *tensors):
        """`tensors`, usable only once `message` is empty (else InvalidArgument with it)."""
        check = tf.debugging.Assert(tf.equal(message, ""), [message])
        with tf.control_dependencies([check]):
            return [tf.identity(tensor) for tensor in tensors]

    def _sample(self, images, num_samples, seed, noise_scale, offset=(0, 0)):
        """Checks the request, then runs the model on it; images in [0, 1], any dtype."""
        images, num_samples, seed, noise_scale, y0, x0 = self._after(
            self._request_error(images, num_samples, noise_scale),
            images, num_samples, seed, noise_scale, *offset)
        images = tf.ensure_shape(tf.cast(images, tf.float32), [None, None, None, 3])
        # Tile by tile in-graph: peak memory follows the tile, not the request.
        return tiled_super_resolve(self._computing, images, num_samples, seed, noise_scale,
                                   (y0, x0), self.consistency_iterations,
                                   margin=self.receptive_field, tile=self.tile_size)

    @staticmethod
    def _to_uint8(images):
        return tf.cast(tf.round(tf.clip_by_value(images, 0.0, 1.0) * 255.0), tf.uint8)

    @tf.function(input_signature=[_IMAGES])
    def serve(self, images):
        out = self._sample(tf.cast(images, tf.float32) / 255.0, tf.constant(1, tf.int64),
                           tf.constant(0, tf.int64), self.noise_scale)
        return {"images": self._to_uint8(out[:, 0])}

    @tf.function(input_signature=[_IMAGES, tf.TensorSpec([], tf.int64, name="num_samples"),
                                  tf.TensorSpec([], tf.int64, name="seed"),
                                  tf.TensorSpec([], tf.float32, name="noise_scale")])
    def samples(self, images, num_samples, seed, noise_scale):
        out = self._sample(tf.cast(images, tf.float32) / 255.0, num_samples, seed, noise_scale)
        return {"samples": self._to_uint8(out)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="encoded")])
    def encoded(self, encoded):
        def one(data):
            image = tf.ensure_shape(tf.io.decode_image(data, channels=3, expand_animations=False),
                                    [None, None, 3])
            out = self._sample(tf.cast(image[None], tf.float32) / 255.0,
                               tf.constant(1, tf.int64), tf.constant(0, tf.int64), self.noise_scale)
            return tf.io.encode_png(self._to_uint8(out[0, 0]))

        # Sizes as the files declare them, read from their headers: a small file may declare
        # a huge image (a decompression bomb), so the whole request is checked before any
        # image is decoded.
        sizes = tf.map_fn(declared_size, encoded, fn_output_signature=tf.TensorSpec([2], tf.int64))
        height, width = tf.cast(sizes[:, 0], tf.float64), tf.cast(sizes[:, 1], tf.float64)
        pixels = height * width  # In float64: a product of int64s could overflow and pass.
        problems = [  # (is wrong, message), the first wrong one is reported
            (tf.equal(tf.size(encoded), 0), "encoded must hold at least one image. Received: {}"
             " images", tf.size(encoded)),
            (tf.reduce_any(sizes[:, 0] < 0), "encoded images must be PNG or JPEG files; image {}"
             " of the request is neither (its first bytes are not a PNG or JPEG signature)",
             tf.argmin(tf.concat([sizes[:, 0], [0]], 0))),  # safe on an empty request too
            (tf.reduce_any(pixels < 1), "encoded images must be at least 1x1 pixels. Received"
             " declared sizes (height, width): {}", sizes),
            (tf.reduce_any(pixels > tf.cast(self.max_input_pixels, tf.float64)),
             "Input image too large: height * width must not exceed max_input_pixels={} (the limit"
             " recorded at export); tile it on the client. Received declared sizes (height,"
             " width): {}", [self.max_input_pixels, sizes]),
            (tf.reduce_sum(pixels) > tf.cast(self.max_request_pixels, tf.float64),
             "Request too large: the images' height x width summed must not exceed"
             " max_request_pixels={} (the limit recorded at export). Received: {}",
             [self.max_request_pixels, tf.reduce_sum(pixels)]),
        ]
        message = tf.constant("")
        for wrong, template, values in reversed(problems):
            message = tf.where(wrong, tf.strings.format(template, values, summarize=-1), message)
        encoded, = self._after(message, encoded)
        return {"png": tf.map_fn(one, encoded, fn_output_signature=tf.string)}

    @tf.function(input_signature=[tf.TensorSpec(None, tf.float32, name="lr"),
                                  tf.TensorSpec([], tf.int32, name="num_samples"),
                                  tf.TensorSpec([], tf.int64, name="seed"),
                                  tf.TensorSpec([], tf.float32, name="noise_scale"),
                                  tf.TensorSpec([2], tf.int32, name="offset")])
    def samples_at(self, lr, num_samples, seed, noise_scale, offset):
        # Float images must be in [0, 1]; NaN or infinite pixels would silently become
        # NaN samples, so they are refused like any bad request.
        valid = tf.reduce_all(tf.math.is_finite(lr) & (lr >= 0.0) & (lr <= 1.0))
        lr, = self._after(tf.where(valid, "", "lr must hold finite values in [0, 1]"), lr)
        return {"samples": self._sample(lr, num_samples, seed, noise_scale, (offset[0], offset[1]))}


_TEMPORARY_PREFIX = ".partial-"


def _remove_abandoned_partial_exports(export_dir):
    """Removes temporary folders of exports whose process is gone (killed mid-write)."""
    if not os.path.isdir(export_dir):
        return
    for name in os.listdir(export_dir):
        if not name.startswith(_TEMPORARY_PREFIX):
            continue
        pid = name.rsplit("-", 1)[-1]
        try:
            os.kill(int(pid), 0)
            continue  # Another export is writing it now.
        except (ValueError, ProcessLookupError):
            pass
        except PermissionError:
            continue
        logging.warning("Removing %s, left by an export that did not finish.", name)
        shutil.rmtree(os.path.join(export_dir, name), ignore_errors=True)


def next_version(export_dir):
    """1 + the largest integer version folder under `export_dir` (1 if none)."""
    if not os.path.isdir(export_dir):
        return 1
    versions = [int(name) for name in os.listdir(export_dir) if name.isdigit()]
    return max(versions, default=0) + 1


def export(generator, export_dir, version=None, noise_scale=0.0, max_input_pixels=1024 * 1024,
           receptive_field=16, max_request_pixels=1024 * 1024, consistency_iterations=0,
           precision="float32", tile_size=DEFAULT_TILE_SIZE):
    """Writes `export_dir/<version>/` (saved_model.pb + variables); returns that path.

    The SavedModel is written to a hidden temporary folder beside it and renamed into place
    when complete, so TF Serving, which loads every integer folder it sees, never finds a
    half-written version, even if the export is killed.

    Raises:
        ValueError: if that version already exists.
    """
    version = next_version(export_dir) if version is None else version
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"--version must be an integer >= 1. Received: version={version!r}")
    path = os.path.join(export_dir, str(version))
    if os.path.exists(path):
        raise ValueError(f"Export version {version} already exists at {path}; refusing to"
                         " overwrite. Choose another --version or leave it out for the next one.")
    module = ServingModule(generator, noise_scale, max_input_pixels, receptive_field,
                           max_request_pixels, consistency_iterations, precision, tile_size)
    signatures = {"serving_default": module.serve, "samples": module.samples,
                  "encoded": module.encoded, "samples_at": module.samples_at}
    _remove_abandoned_partial_exports(export_dir)
    temporary = os.path.join(export_dir, f"{_TEMPORARY_PREFIX}{version}-{os.getpid()}")
    try:
        tf.saved_model.save(module, temporary, signatures=signatures)
        os.rename(temporary, path)  # Fails, rather than merges, if `path` appeared meanwhile.
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return path
