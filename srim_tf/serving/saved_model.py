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
Every request is checked before any work is done (`requests.py`; encoded files by the
sizes their headers declare, `image_headers.py`), and a bad one fails alone. Image inputs
are declared with unknown rank so that the checks run: TF Serving does not check shapes
itself, and a known rank would let the graph optimizer fold the rank check away.
"""

import json
import os

import tensorflow as tf

from srim_tf import checks, safe_files
from srim_tf.inference import consistency
from srim_tf.inference.graph_tiling import tiled_super_resolve
from srim_tf.model.precision import INFERENCE_PRECISIONS, in_precision
from srim_tf.serving import requests
from srim_tf.serving.image_headers import declared_sizes
from srim_tf.settings import SERVING_TILE_SIZE  # the in-graph tile side (why 128: settings.py)

_IMAGES = tf.TensorSpec(None, tf.uint8, name="images")


class ServingModule(tf.Module):
    """Wraps a generator with the serving signatures.

    Args:
        generator: a trained `SRIMGenerator`; its `receptive_field` is recorded for tiled
            clients and is the context every in-graph tile gets.
        noise_scale: noise scale of `serving_default` and `encoded`.
        max_input_pixels: largest accepted H * W of one input image.
        max_request_pixels: largest accepted N * K * H * W of one request.
        consistency_iterations: passes of back-projection of every output onto its input
            (`consistency.py`; 0: off). The recorded receptive field grows to match.
        precision: what the generator computes in (`precision.INFERENCE_PRECISIONS`),
            recorded as `precision`; inputs and outputs keep their dtypes, and
            back-projection stays in float32.
        tile_size: LR side of the tiles every request is computed in (`graph_tiling.py`),
            recorded as `tile_size`: it, not the request, sets the model's peak memory.
    """

    def __init__(self, generator, noise_scale=0.0, max_input_pixels=1024 * 1024,
                 max_request_pixels=1024 * 1024, consistency_iterations=0, precision="float32",
                 tile_size=SERVING_TILE_SIZE):
        super().__init__()
        checks.check_choice("precision", precision, INFERENCE_PRECISIONS)
        requests.check_export_bounds(noise_scale, max_input_pixels, max_request_pixels)
        self.generator = generator
        # Read back by `loading.load_generator`, which rebuilds the generator from the export.
        self.generator_settings = tf.Variable(json.dumps(generator.settings.as_dict()),
                                              trainable=False, name="generator_settings")
        # A plain object (not tracked): it computes on `generator`'s variables, saved once.
        self._computing = in_precision(generator, precision)
        self.precision = tf.Variable(precision, trainable=False, name="precision")
        self.consistency_iterations = int(consistency_iterations)
        # Recorded, so that a client does not back-project these outputs a second time.
        self.consistency_record = tf.Variable(self.consistency_iterations, trainable=False,
                                              name="consistency_iterations")
        receptive_field = generator.receptive_field + consistency.context(self.consistency_iterations)
        # Keras 3 variables wrap tf.Variables; TF1-style loaders (TF Serving's C++ loader,
        # `saved_model_cli run`) restore only tf.Variables tracked directly, as
        # keras.export.ExportArchive also does.
        self.tf_variables = [variable.value for variable in generator.variables]
        self.noise_scale = tf.Variable(float(noise_scale), trainable=False, name="noise_scale")
        self.max_input_pixels = tf.Variable(int(max_input_pixels), dtype=tf.int64,
                                            trainable=False, name="max_input_pixels")
        # Read back by `samplers.SavedModelSampler` as the context its tiles need.
        self.receptive_field = tf.Variable(int(receptive_field), trainable=False, name="receptive_field")
        self.max_request_pixels = tf.Variable(int(max_request_pixels), dtype=tf.int64,
                                              trainable=False, name="max_request_pixels")
        if not 1 <= int(tile_size):
            raise ValueError(f"tile_size must be >= 1. Received: tile_size={tile_size}")
        self.tile_size = tf.Variable(int(tile_size), trainable=False, name="tile_size")

    def _sample(self, images, num_samples, seed, noise_scale, offset=(0, 0)):
        """Checks the request, then runs the model on it; images in [0, 1], any dtype."""
        images, num_samples, seed, noise_scale, y0, x0 = requests.after(
            requests.request_error(images, num_samples, noise_scale, self.max_input_pixels,
                                   self.max_request_pixels),
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
        encoded, = requests.after(
            requests.encoded_request_error(encoded, declared_sizes(encoded),
                                           self.max_input_pixels, self.max_request_pixels),
            encoded)
        return {"png": tf.map_fn(one, encoded, fn_output_signature=tf.string)}

    @tf.function(input_signature=[tf.TensorSpec(None, tf.float32, name="lr"),
                                  tf.TensorSpec([], tf.int32, name="num_samples"),
                                  tf.TensorSpec([], tf.int64, name="seed"),
                                  tf.TensorSpec([], tf.float32, name="noise_scale"),
                                  tf.TensorSpec([2], tf.int32, name="offset")])
    def samples_at(self, lr, num_samples, seed, noise_scale, offset):
        lr, = requests.after(requests.float_images_error(lr), lr)
        return {"samples": self._sample(lr, num_samples, seed, noise_scale, (offset[0], offset[1]))}


def next_version(export_dir):
    """1 + the largest integer version folder under `export_dir` (1 if none)."""
    if not os.path.isdir(export_dir):
        return 1
    versions = [int(name) for name in os.listdir(export_dir) if name.isdigit()]
    return max(versions, default=0) + 1


def export(generator, export_dir, version=None, noise_scale=0.0, max_input_pixels=1024 * 1024,
           max_request_pixels=1024 * 1024, consistency_iterations=0, precision="float32",
           tile_size=SERVING_TILE_SIZE):
    """Writes `export_dir/<version>/` (saved_model.pb + variables); returns that path.

    The SavedModel is written to a hidden temporary folder beside it and renamed into place
    when complete (`safe_files.folder_written_whole`), so TF Serving, which loads every
    integer folder it sees, never finds a half-written version, even if the export is killed.

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
    module = ServingModule(generator, noise_scale, max_input_pixels, max_request_pixels,
                           consistency_iterations, precision, tile_size)
    signatures = {"serving_default": module.serve, "samples": module.samples,
                  "encoded": module.encoded, "samples_at": module.samples_at}
    with safe_files.folder_written_whole(path) as temporary:
        tf.saved_model.save(module, temporary, signatures=signatures)
    return path
