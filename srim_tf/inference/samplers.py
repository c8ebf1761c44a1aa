"""One interface over the places a trained generator can come from.

A `Sampler` maps float LR windows `[N, h, w, 3]` in [0, 1] to `[N, K, 4h, 4w, 3]` samples,
with position-addressed noise so tiles of one image agree. `load_sampler` accepts every
model name `model.loading.load_generator` does; a SavedModel samples through its own
signatures, computing as it was exported.
"""

from typing import Protocol

import numpy as np
import tensorflow as tf
from absl import logging

from srim_tf import checks
from srim_tf.inference import consistency
from srim_tf.inference.sampling import super_resolve_with
from srim_tf.model import loading
from srim_tf.model.precision import INFERENCE_PRECISIONS, in_precision


class Sampler(Protocol):
    """What `tiling`, `evaluate` and the programs take: `GeneratorSampler`,
    `SavedModelSampler` or `ConsistentSampler`.

    Attributes:
        description: what the samples come from, for logs and reports.
        receptive_field: LR pixels of context per side an output pixel depends on; tiles
            given this much context equal the untiled output.
    """

    description: str
    receptive_field: int

    def __call__(self, lr, num_samples: int, seed: int, noise_scale: float,
                 offset=(0, 0)) -> np.ndarray:
        """Samples of LR windows.

        Args:
            lr: float32 `[N, h, w, 3]` in [0, 1].
            num_samples: K >= 1.
            seed: the noise seed; the same seed gives the same samples.
            noise_scale: 0 for the deterministic output, 1 for the training distribution.
            offset: `(y, x)` of the window in a larger image, which addresses the noise.

        Returns:
            float32 `[N, K, 4h, 4w, 3]` in [0, 1].
        """
        ...


class GeneratorSampler:
    """Samples from a Keras `SRIMGenerator`, computing in `precision` (`precision.py`)."""

    def __init__(self, generator, description, precision="float32"):
        self.generator = generator
        self.precision = precision
        self.description = description if precision == "float32" else f"{description}, in {precision}"
        self.receptive_field = generator.receptive_field
        computing = in_precision(generator, precision)
        self._run = tf.function(
            lambda lr, k, seed, scale, offset: super_resolve_with(
                computing, lr, k, seed, scale, (offset[0], offset[1])),
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32),
                             tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int64),
                             tf.TensorSpec([], tf.float32), tf.TensorSpec([2], tf.int32)],
            # Nothing here branches on tensors; AutoGraph's conversion of the Keras calls
            # only costs time at the first call (about 0.9 s of srim_sample's start in bf16).
            autograph=False)

    def __call__(self, lr, num_samples, seed, noise_scale, offset=(0, 0)):
        return self._run(tf.constant(lr, tf.float32), tf.constant(num_samples, tf.int32),
                         tf.constant(seed, tf.int64), tf.constant(noise_scale, tf.float32),
                         tf.constant(offset, tf.int32)).numpy()


class SavedModelSampler:
    """Samples through an exported SavedModel's `samples_at` signature."""

    def __init__(self, path, precision=None):
        self.loaded = tf.saved_model.load(path)
        # Exports from before --precision have no record of it: they compute in float32.
        recorded = getattr(self.loaded, "precision", None)
        self.precision = recorded.numpy().decode() if recorded is not None else "float32"
        if precision not in (None, self.precision):
            raise ValueError(f"The SavedModel {path} computes in {self.precision}, as it was"
                             f" exported; export it again with --precision={precision}, or"
                             f" leave --precision out. Received: --precision={precision}")
        if not hasattr(self.loaded, "receptive_field") or "samples_at" not in self.loaded.signatures:
            raise ValueError(f"{path} is a SavedModel, but not one srim_export wrote (it has no"
                             " samples_at signature and receptive_field): export the model with"
                             " srim_export, or pass a workdir or checkpoint.")
        self.description = f"SavedModel {path}, in {self.precision}"
        self.receptive_field = int(self.loaded.receptive_field.numpy())
        # Exports from before it was recorded: 0 (they had no --consistency record).
        recorded = getattr(self.loaded, "consistency_record", None)
        self.consistency_iterations = int(recorded.numpy()) if recorded is not None else 0
        self._run = self.loaded.signatures["samples_at"]

    def __call__(self, lr, num_samples, seed, noise_scale, offset=(0, 0)):
        return self._run(lr=tf.constant(lr, tf.float32), num_samples=tf.constant(num_samples, tf.int32),
                         seed=tf.constant(seed, tf.int64), noise_scale=tf.constant(noise_scale, tf.float32),
                         offset=tf.constant(offset, tf.int32))["samples"].numpy()


class ConsistentSampler:
    """Another sampler's outputs back-projected onto their input (`consistency.py`).

    Tiles get `consistency.context` more LR pixels of context, so that tiled outputs still
    agree with untiled ones.
    """

    def __init__(self, sampler: Sampler, iterations=consistency.DEFAULT_ITERATIONS):
        self.sampler, self.iterations = sampler, iterations
        self.description = f"{sampler.description}, LR-consistent ({iterations} back-projections)"
        self.receptive_field = sampler.receptive_field + consistency.context(iterations)
        self._project = tf.function(
            lambda out, lr: consistency.back_project(out, lr, iterations=iterations),
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)] * 2)

    def __call__(self, lr, num_samples, seed, noise_scale, offset=(0, 0)):
        samples = self.sampler(lr, num_samples, seed, noise_scale, offset)  # [N, K, 4h, 4w, 3]
        n, k = samples.shape[:2]
        projected = self._project(tf.constant(samples.reshape(n * k, *samples.shape[2:])),
                                  tf.repeat(tf.constant(lr, tf.float32), k, axis=0))
        return projected.numpy().reshape(samples.shape)


def load_sampler(spec="pretrained", flag="model", consistency_iterations=0, precision=None) -> Sampler:
    """A sampler for `spec` (see the module docstring); `ValueError` naming it (as the
    program's `--flag`) if none fits. `consistency_iterations` > 0 back-projects its
    outputs onto their inputs (`ConsistentSampler`, in float32). `precision` is what the
    generator computes in (`precision.INFERENCE_PRECISIONS`); None: float32, or for a
    SavedModel the precision it was exported in (another one is a `ValueError`)."""
    if precision is not None:
        checks.check_choice("precision", precision, INFERENCE_PRECISIONS)
    sampler = _load_sampler(spec, flag, precision)
    if consistency_iterations and getattr(sampler, "consistency_iterations", 0):
        # Back-projecting outputs that already are back-projected would change nothing
        # but the time; the model's own consistency is used as exported.
        logging.info("%s is already LR-consistent (exported with --consistency): not applying"
                     " it again.", sampler.description)
        return sampler
    return ConsistentSampler(sampler, consistency_iterations) if consistency_iterations else sampler


def _load_sampler(spec, flag, precision):
    saved_model = loading.saved_model_dir(spec)
    if saved_model:  # Its signatures, computing as exported.
        return SavedModelSampler(saved_model, precision)
    try:
        loaded = loading.load_generator(spec)
    except ValueError as error:
        raise ValueError(f"{error} (--{flag})") from error
    return GeneratorSampler(loaded.generator, loaded.description, precision or "float32")
