"""`SRIM`: conditional IMLE training of the generator (paper 2.2), as a Keras model.

Every step chooses each input's nearest codes (`sel.select`) or takes the codes a
code pool chose earlier, and pulls that sample towards its target (the gradient step).
"""

import keras
import tensorflow as tf

from srim_tf import checks
from srim_tf.data.resize import bicubic_downsample
from srim_tf.evaluation import metrics
from srim_tf.inference.sampling import super_resolve_with
from srim_tf.model.features import FeatureExtractor, build_vgg_trunk, net_of
from srim_tf.model.precision import GeneratorInPrecision, OnWeightsOf, policy
from srim_tf.settings import ImleSettings
from srim_tf.training import batches
from srim_tf.training import selection as sel
from srim_tf.training.distances import Distance  # noqa: F401  (used by the docstring example)

# The stream the selection seeds are folded from (its value fixes every run's codes).
_TRAINING_STREAM = 0x5EED


def lr_loss(outputs, lr):
    """`[B]`: mean absolute difference between each output's bicubic 4x downsample (MATLAB's
    kernel, unrounded, so it has gradients) and `lr`: the LR consistency loss."""
    down = bicubic_downsample(tf.cast(outputs, tf.float32), 4, quantize=False)
    return tf.reduce_mean(tf.abs(down - tf.cast(lr, tf.float32)), axis=[1, 2, 3])


class SRIM(keras.Model):
    """The generator plus IMLE sample selection, as a trainable Keras model.

    `fit` takes batches of `(lr, mid, hr)`: LR `[B, h, w, 3]`, the 2x target
    `[B, 2h, 2w, 3]` and the 4x target `[B, 4h, 4w, 3]`, floats in [0, 1]. A dict batch
    with the keys `lr, mid, hr, z_lo, z_up` skips selection and trains on the given codes
    (code reuse); an `hr_features` key also gives the target's features, as
    `select_codes(..., with_targets=True)` returns them, so the step need not recompute them.

    Args:
        generator: a `SRIMGenerator`, built for this model's `dtype`.
        vgg_trunk: the model from `features.load_vgg_trunk` (built for `dtype`), or None for
            pixel-only distances. It is used frozen and is not part of this model's weights.
        selection_distance: `Distance` used to choose the nearest sample.
        loss_distance: `Distance` the gradient step minimises (must be exact).
        imle: the `ImleSettings`: codes drawn per stage, chunk, selection mode and patch,
            selection precision, the extra losses on the 2x and z = 0 outputs, the codes'
            jitter (see `srim_tf/settings.py` for each). bfloat16 selection runs on twins
            of the models built for it, which read the same weights (`precision.OnWeightsOf`).
        seed: base seed of the selection noise.
        lpips: the `lpips.LPIPS` network of the distances' "lpips_*" layers, if any
            (float32 at every precision; frozen, not part of this model's weights).
        dtype: the dtype policy of the gradient step ("float32", "mixed_bfloat16" or
            "mixed_float16"; compile() adds loss scaling for the last).

    Examples:
        >>> from srim_tf.model.generator import SRIMGenerator
        >>> from srim_tf.settings import GeneratorSettings
        >>> model = SRIM(SRIMGenerator(GeneratorSettings(channels=8, num_convs=3)), None,
        ...              Distance({"pixels": 1.0}), Distance({"pixels": 1.0}, "l1"),
        ...              ImleSettings(num_lower_samples=4, num_upper_samples=4))
        >>> model.super_resolve(tf.zeros((1, 6, 6, 3)), num_samples=2).shape
        TensorShape([1, 2, 24, 24, 3])
    """

    def __init__(self, generator, vgg_trunk, selection_distance, loss_distance,
                 imle=ImleSettings(), seed=0, lpips=None, dtype=None, **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self.imle = imle
        self.selection_distance = selection_distance
        if loss_distance.projection != "none":
            raise ValueError("The loss must use exact distances (projection 'none')."
                             f" Received: projection={loss_distance.projection!r}")
        self.generator = generator
        self.loss_distance = loss_distance
        layers = tuple(dict.fromkeys(selection_distance.layers + loss_distance.layers))
        self.features = FeatureExtractor(vgg_trunk, layers, lpips=lpips)
        self.seed = seed
        self._selection_models = self._build_selection_models()
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.lower_distance_tracker = keras.metrics.Mean(name="nearest_distance_lower")
        self.upper_distance_tracker = keras.metrics.Mean(name="nearest_distance_upper")
        self.psnr_tracker = keras.metrics.Mean(name="chosen_y_psnr")
        # Codes drawn since construction: makes every step's noise seed distinct even when
        # selection runs outside `fit` (code reuse), and is checkpointed with the model.
        self.selection_counter = self.add_weight(
            name="selection_counter", shape=(), dtype="int64", initializer="zeros",
            trainable=False, aggregation="only_first_replica")
        self.built = True

    def _build_selection_models(self):
        """`(generator, features)` that selection runs on: the models themselves in float32,
        twins computing in bfloat16 on the same weights otherwise."""
        if self.imle.selection_precision == "float32":
            return self.generator, self.features
        trunk = self.features.trunk
        if trunk is not None:
            trunk = OnWeightsOf(trunk, build_vgg_trunk(policy(self.imle.selection_precision),
                                                       net_of(trunk)))
        return (GeneratorInPrecision(self.generator, self.imle.selection_precision),
                FeatureExtractor(trunk, self.features.layers, self.features.net,
                                 self.features.lpips))

    @property
    def selection_models(self):
        """`(generator, features)` that selection runs on, at `selection_precision`."""
        return self._selection_models

    @property
    def metrics(self):
        return [self.loss_tracker, self.lower_distance_tracker, self.upper_distance_tracker,
                self.psnr_tracker]

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    # ---- sample selection -------------------------------------------------------------

    def _example_seeds(self, batch_size):
        """One stateless seed per input of this replica's batch, `[B, 2]`.

        A new base seed per call (the counter), then the input's position in the global
        batch: an input gets the same codes on any number of replicas.
        """
        base = tf.random.experimental.stateless_fold_in(
            tf.constant([self.seed, _TRAINING_STREAM], tf.int64), self.selection_counter)
        self.selection_counter.assign_add(1)
        replica = tf.distribute.get_replica_context()
        replica_id = replica.replica_id_in_sync_group if replica is not None else 0
        replica_id, batch_size = tf.cast(replica_id, tf.int64), tf.cast(batch_size, tf.int64)
        return sel.example_seeds(base, replica_id * batch_size, batch_size)

    def select_codes(self, lr, mid, hr, with_targets=False):
        """Chooses each input's codes by the configured selection.

        Args:
            lr, mid, hr: this replica's batch.
            with_targets: also return the features of `hr` as the gradient step computes
                them: as selection computed them when it runs at the step's precision,
                recomputed otherwise. Without, `hr_features` is `{}`.

        Returns:
            A `selection.Selection`; `lower_distance` is 0 for joint selection.
        """
        generator, features = self._selection_models
        seeds = self._example_seeds(tf.shape(lr)[0])
        chosen = sel.select(generator, features, {"lr": lr, "mid": mid, "hr": hr}, seeds,
                            self.selection_distance, self.imle)
        if not with_targets:
            return chosen._replace(hr_features={})
        if not self._selection_matches_step_precision():
            chosen = chosen._replace(hr_features=self.features(hr))
        return chosen

    def jitter_codes(self, z_lo, z_up):
        """Adds `code_jitter` * N(0, 1) to chosen codes `[B, ...]` (a new draw every call)."""
        if not self.imle.code_jitter:
            return z_lo, z_up
        return sel.jitter(z_lo, z_up, self._example_seeds(tf.shape(z_lo)[0]), self.imle.code_jitter)

    def _selection_matches_step_precision(self):
        trunk = self.features.trunk
        return (self.imle.selection_precision == "float32" or trunk is None
                or trunk.compute_dtype == self.imle.selection_precision)

    # ---- training (validation is the loop's: `loop._Run.validate`) ---------------------

    def _check_batch(self, data):
        batch = batches.as_batch(data)
        if batches.FEATURES_KEY in batch:
            missing = set(self.features.layers) - set(batch[batches.FEATURES_KEY])
            if missing:
                raise ValueError(f"hr_features lacks the layers {sorted(missing)}; it needs"
                                 f" {list(self.features.layers)}. Received:"
                                 f" {sorted(batch[batches.FEATURES_KEY])}")
        for name in batches.BATCH_KEYS:
            checks.check_images(name, batch[name])
        return batch

    def step_loss(self, lr, mid, hr, z_lo, z_up, training, hr_features=None):
        """`(loss, output)`: the distance of the output at the given codes to its target
        (plus the optional 2x, LR and z = 0 terms), averaged over the batch: what a step minimises."""
        out_mid, out = self.generator.generate(lr, z_lo, z_up, training=training)
        if hr_features is None:
            hr_features = self.features(hr)
        loss = self.loss_distance.paired(self.features(out), hr_features)
        if self.imle.mid_loss_weight:
            loss += self.imle.mid_loss_weight * self.loss_distance.paired(
                self.features(out_mid), self.features(mid))
        if self.imle.lr_loss_weight:
            # The target's own LR, not the input: under --degradations the input is blurred,
            # noisy or JPEG'd, and samples should keep the clean content, not its faults.
            clean_lr = bicubic_downsample(tf.cast(hr, tf.float32), 4, quantize=False)
            loss += self.imle.lr_loss_weight * lr_loss(out, clean_lr)
        if self.imle.zero_code_loss_weight:
            _, out_zero = self.generator.generate(lr, tf.zeros_like(z_lo), tf.zeros_like(z_up),
                                                  training=training)
            loss += self.imle.zero_code_loss_weight * self.loss_distance.paired(
                self.features(out_zero), hr_features)
        return tf.reduce_mean(loss), out

    def train_step(self, data):
        batch = self._check_batch(data)
        # Only the generator's input takes the compute dtype; the targets stay exact.
        lr = tf.cast(batch["lr"], self.compute_dtype)
        mid, hr = (tf.cast(batch[k], tf.float32) for k in ("mid", "hr"))
        chosen = None
        if "z_lo" in batch:
            z_lo, z_up = batch["z_lo"], batch["z_up"]
            hr_features = batch.get(batches.FEATURES_KEY)
            # Given (reused) codes carry the jitter drawn when they were chosen, unless
            # it is redrawn every step.
            if self.imle.code_jitter_mode == "per_step":
                z_lo, z_up = self.jitter_codes(z_lo, z_up)
        else:
            chosen = self.select_codes(batch["lr"], mid, hr, with_targets=True)
            z_lo, z_up = self.jitter_codes(chosen.z_lo, chosen.z_up)
            hr_features = chosen.hr_features
        z_lo, z_up = tf.stop_gradient(z_lo), tf.stop_gradient(z_up)
        with tf.GradientTape() as tape:
            loss, out = self.step_loss(lr, mid, hr, z_lo, z_up, training=True,
                                   hr_features=hr_features)
            # Gradients are summed across replicas, so each replica scales its share.
            scaled = loss / tf.distribute.get_strategy().num_replicas_in_sync
            if hasattr(self.optimizer, "scale_loss"):
                scaled = self.optimizer.scale_loss(scaled)
        variables = self.generator.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        self.loss_tracker.update_state(loss)
        self.psnr_tracker.update_state(metrics.y_psnr(out, hr))
        reported = [self.loss_tracker, self.psnr_tracker]
        if chosen is not None:  # Selection ran in this step (not reused codes).
            self.lower_distance_tracker.update_state(tf.reduce_mean(chosen.lower_distance))
            self.upper_distance_tracker.update_state(tf.reduce_mean(chosen.upper_distance))
            reported += [self.lower_distance_tracker, self.upper_distance_tracker]
        return {m.name: m.result() for m in reported}

    # ---- inference ----------------------------------------------------------------------

    def super_resolve(self, lr, num_samples=1, seed=0, noise_scale=1.0, offset=(0, 0)):
        """Draws `num_samples` super-resolutions of each LR image.

        Noise comes from `noise.positional_normal`: it depends on the seed, the sample
        index and the pixel position only, so results do not depend on batching or tiling.

        Args:
            lr: `[N, h, w, 3]` floats in [0, 1].
            num_samples: K >= 1.
            seed: integer seed.
            noise_scale: multiplies the codes; 0 gives the deterministic output at z = 0,
                1 the training distribution.
            offset: `(y, x)` of this LR window in a larger image (used by tiling).

        Returns:
            `[N, K, 4h, 4w, 3]` in [0, 1].
        """
        checks.check_images("lr", lr, dtypes=("float32", "float16", "bfloat16", "float64"))
        checks.check_positive_int("num_samples", num_samples)
        return super_resolve_with(self.generator, tf.cast(lr, tf.float32), num_samples, seed,
                                  noise_scale, offset)
