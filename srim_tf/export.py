"""A SavedModel that TF Serving loads: signatures a client calls without our code.

Signatures (method `tensorflow/serving/predict`):
    serving_default  images uint8 [N, H, W, 3] -> images uint8 [N, 4H, 4W, 3], at the noise
                     scale chosen at export (default 0: the deterministic output)
    samples          images, num_samples int64, seed int64, noise_scale float
                     -> samples uint8 [N, K, 4H, 4W, 3], reproducible for a given seed
    encoded          encoded PNG/JPEG strings [N] -> PNG strings [N] (REST clients, base64)
    samples_at       float images in [0, 1], num_samples, seed, noise_scale, offset [2]
                     -> float samples; used by our tiled inference on large images
Requests with more than `max_input_pixels` input pixels per image fail with
InvalidArgument naming the limit, before any work is done.
"""

import os

import tensorflow as tf

from srim_tf.imle import super_resolve_with

_IMAGES = tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")


class ServingModule(tf.Module):
    """Wraps a generator with the serving signatures.

    Args:
        generator: a trained `SRIMGenerator`.
        noise_scale: noise scale of `serving_default` and `encoded`.
        max_input_pixels: largest accepted H * W of one input image.
        receptive_field: LR context per side, recorded for tiled clients.
    """

    def __init__(self, generator, noise_scale=0.0, max_input_pixels=1024 * 1024, receptive_field=16):
        super().__init__()
        self.generator = generator
        # Keras 3 variables wrap tf.Variables; TF1-style loaders (TF Serving's C++ loader,
        # `saved_model_cli run`) restore only tf.Variables tracked directly, as
        # keras.export.ExportArchive also does.
        self.tf_variables = [variable.value for variable in generator.variables]
        self.noise_scale = tf.Variable(float(noise_scale), trainable=False, name="noise_scale")
        self.max_input_pixels = tf.Variable(int(max_input_pixels), dtype=tf.int64,
                                            trainable=False, name="max_input_pixels")
        self.receptive_field = tf.Variable(int(receptive_field), trainable=False, name="receptive_field")

    def _check_size(self, images):
        shape = tf.shape(images, out_type=tf.int64)
        return tf.debugging.assert_less_equal(
            shape[1] * shape[2], self.max_input_pixels,
            message="Input image too large: height * width must not exceed max_input_pixels"
                    " (the limit recorded at export); tile it on the client")

    def _sample(self, images, num_samples, seed, noise_scale, offset=(0, 0)):
        with tf.control_dependencies([self._check_size(images)]):
            tf.debugging.assert_positive(num_samples, message="num_samples must be >= 1")
            return super_resolve_with(self.generator, tf.cast(images, tf.float32), num_samples,
                                      seed, noise_scale, offset)

    @staticmethod
    def _to_uint8(images):
        return tf.cast(tf.round(tf.clip_by_value(images, 0.0, 1.0) * 255.0), tf.uint8)

    @tf.function(input_signature=[_IMAGES])
    def serve(self, images):
        out = self._sample(tf.cast(images, tf.float32) / 255.0, 1, tf.constant(0, tf.int64),
                           self.noise_scale)
        return {"images": self._to_uint8(out[:, 0])}

    @tf.function(input_signature=[_IMAGES, tf.TensorSpec([], tf.int64, name="num_samples"),
                                  tf.TensorSpec([], tf.int64, name="seed"),
                                  tf.TensorSpec([], tf.float32, name="noise_scale")])
    def samples(self, images, num_samples, seed, noise_scale):
        out = self._sample(tf.cast(images, tf.float32) / 255.0, tf.cast(num_samples, tf.int32),
                           seed, noise_scale)
        return {"samples": self._to_uint8(out)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="encoded")])
    def encoded(self, encoded):
        def one(data):
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
            image = tf.ensure_shape(image, [None, None, 3])
            out = self._sample(tf.cast(image[None], tf.float32) / 255.0, 1,
                               tf.constant(0, tf.int64), self.noise_scale)
            return tf.io.encode_png(self._to_uint8(out[0, 0]))

        return {"png": tf.map_fn(one, encoded, fn_output_signature=tf.string)}

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="lr"),
                                  tf.TensorSpec([], tf.int32, name="num_samples"),
                                  tf.TensorSpec([], tf.int64, name="seed"),
                                  tf.TensorSpec([], tf.float32, name="noise_scale"),
                                  tf.TensorSpec([2], tf.int32, name="offset")])
    def samples_at(self, lr, num_samples, seed, noise_scale, offset):
        return {"samples": self._sample(lr, num_samples, seed, noise_scale, (offset[0], offset[1]))}


def next_version(export_dir):
    """1 + the largest integer version folder under `export_dir` (1 if none)."""
    if not os.path.isdir(export_dir):
        return 1
    versions = [int(name) for name in os.listdir(export_dir) if name.isdigit()]
    return max(versions, default=0) + 1


def export(generator, export_dir, version=None, noise_scale=0.0, max_input_pixels=1024 * 1024,
           receptive_field=16):
    """Writes `export_dir/<version>/` (saved_model.pb + variables); returns that path.

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
    module = ServingModule(generator, noise_scale, max_input_pixels, receptive_field)
    signatures = {"serving_default": module.serve, "samples": module.samples,
                  "encoded": module.encoded, "samples_at": module.samples_at}
    tf.saved_model.save(module, path, signatures=signatures)
    return path
