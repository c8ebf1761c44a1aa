"""`SRIM`: conditional IMLE training of the generator (paper 2.2 and 2.4).

For every training input, many noise codes are drawn, the generator's outputs for them
are compared with that input's target in the feature space, and only the nearest output
is pulled towards the target. Samples of different inputs never compete. With
`selection="hierarchical"` (the paper's) the lower code is chosen first on the 2x output
against the 2x-downsampled target, then, with it fixed, the upper code on the 4x output;
`selection="joint"` draws (lower, upper) pairs and chooses on the 4x output alone.
"""

import keras
import tensorflow as tf

from srim_tf import metrics, noise, options
from srim_tf.precision import PRECISIONS, compute_precision
from srim_tf.distances import Distance
from srim_tf.features import FeatureExtractor

SELECTIONS = ("hierarchical", "joint")
# "fixed" (the authors'): jitter is drawn once when codes are chosen and kept while they
# are reused; "per_step": fresh jitter at every gradient step.
JITTER_MODES = ("fixed", "per_step")


class SRIM(keras.Model):
    """The generator plus IMLE sample selection, as a trainable Keras model.

    `fit` takes batches of `(lr, mid, hr)`: LR `[B, h, w, 3]`, the 2x target
    `[B, 2h, 2w, 3]` and the 4x target `[B, 4h, 4w, 3]`, floats in [0, 1]. A batch of
    `(lr, mid, hr, z_lo, z_up)` skips selection and trains on the given codes (code reuse);
    `(lr, mid, hr, z_lo, z_up, hr_features)` also gives the target's features, as
    `select_codes_and_targets` returns them, so the step need not recompute them.

    Args:
        generator: a `SRIMGenerator`.
        vgg_trunk: the model from `features.load_vgg_trunk`, or None for pixel-only
            distances. It is used frozen and is not part of this model's weights.
        selection_distance: `Distance` used to choose the nearest sample.
        loss_distance: `Distance` the gradient step minimises (must be exact).
        num_lower_samples, num_upper_samples: codes drawn per input at each stage
            (joint selection draws their sum, so both modes cost about the same).
        sample_chunk: samples per input generated at once; bounds memory.
        selection: "hierarchical" or "joint".
        mid_loss_weight: weight of an extra loss on the 2x output against the 2x target
            (0 in the authors' code).
        zero_code_loss_weight: weight of an extra loss on the output at z = 0 (0 in the
            authors' code). Without it the z = 0 output is off-distribution: the network
            learns to expect codes of unit scale, and `noise_scale=0` gives a biased image.
        code_jitter: std of the Gaussian jitter added to chosen codes (0.1 in the
            authors' code).
        code_jitter_mode: "fixed" (the authors'): drawn once when codes are chosen, so a
            reused code keeps its jitter for the whole reuse period; "per_step": drawn
            afresh at every gradient step, also on reused codes.
        seed: base seed of the selection noise.
        selection_precision: "float32" or "bfloat16": the compute precision of sample
            generation and features during selection (the gradient step stays float32).

    Examples:
        >>> from srim_tf.model import SRIMGenerator
        >>> model = SRIM(SRIMGenerator(channels=8, num_convs=3), None,
        ...              Distance({"pixels": 1.0}), Distance({"pixels": 1.0}, "l1"),
        ...              num_lower_samples=4, num_upper_samples=4)
        >>> model.super_resolve(tf.zeros((1, 6, 6, 3)), num_samples=2).shape
        TensorShape([1, 2, 24, 24, 3])
    """

    def __init__(self, generator, vgg_trunk, selection_distance, loss_distance,
                 num_lower_samples=100, num_upper_samples=100, sample_chunk=20,
                 selection="hierarchical", mid_loss_weight=0.0, zero_code_loss_weight=0.0,
                 code_jitter=0.1, code_jitter_mode="fixed", seed=0,
                 selection_precision="float32", **kwargs):
        super().__init__(**kwargs)
        options.check_choice("selection", selection, SELECTIONS)
        options.check_choice("selection_precision", selection_precision, PRECISIONS)
        options.check_choice("code_jitter_mode", code_jitter_mode, JITTER_MODES)
        for name, value in (("num_lower_samples", num_lower_samples),
                            ("num_upper_samples", num_upper_samples),
                            ("sample_chunk", sample_chunk)):
            options.check_positive_int(name, value)
        if loss_distance.projection != "none":
            raise ValueError("The loss must use exact distances (projection 'none')."
                             f" Received: projection={loss_distance.projection!r}")
        self.generator = generator
        self.selection_distance = selection_distance
        self.loss_distance = loss_distance
        layers = tuple(dict.fromkeys(selection_distance.layers + loss_distance.layers))
        self.features = FeatureExtractor(vgg_trunk, layers)
        self.num_lower_samples = num_lower_samples
        self.num_upper_samples = num_upper_samples
        self.sample_chunk = sample_chunk
        self.selection = selection
        self.mid_loss_weight = mid_loss_weight
        self.zero_code_loss_weight = zero_code_loss_weight
        self.code_jitter = code_jitter
        self.code_jitter_mode = code_jitter_mode
        self.seed = seed
        self.selection_precision = selection_precision
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.lower_distance_tracker = keras.metrics.Mean(name="nearest_distance_lower")
        self.upper_distance_tracker = keras.metrics.Mean(name="nearest_distance_upper")
        self.psnr_tracker = keras.metrics.Mean(name="chosen_y_psnr")
        self.zero_noise_psnr_tracker = keras.metrics.Mean(name="zero_noise_y_psnr")
        # Codes drawn since construction: makes every step's noise seed distinct even when
        # selection runs outside `fit` (code reuse), and is checkpointed with the model.
        self.selection_counter = self.add_weight(
            name="selection_counter", shape=(), dtype="int64", initializer="zeros",
            trainable=False, aggregation="only_first_replica")
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.lower_distance_tracker, self.upper_distance_tracker,
                self.psnr_tracker, self.zero_noise_psnr_tracker]

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    # ---- sample selection -------------------------------------------------------------

    def _step_seed(self):
        # A stateless seed per selection call and replica: same seed and step, same codes.
        replica = tf.distribute.get_replica_context()
        replica_id = replica.replica_id_in_sync_group if replica is not None else 0
        seed = tf.random.experimental.stateless_fold_in(
            tf.constant([self.seed, 0x5EED], tf.int64), self.selection_counter)
        self.selection_counter.assign_add(1)
        return tf.random.experimental.stateless_fold_in(seed, replica_id)

    def _nearest(self, sample_fn, target_features, num_samples, seed):
        """Runs `sample_fn` chunk by chunk and keeps, per input, the nearest sample.

        Args:
            sample_fn: `(chunk_seed, c) -> (codes, images)`, codes a tuple of
                `[B, c, ...]` tensors and images `[B * c, H, W, 3]` (input-major).
            target_features: features of the targets, dict of `[B, ...]`.
            num_samples: m, the samples per input.
            seed: stateless seed.

        Returns:
            `(codes, distances)`: the chosen codes, each `[B, ...]`, and their distances `[B]`.
        """
        chunk = min(self.sample_chunk, num_samples)
        sizes = [chunk] * (num_samples // chunk)
        if num_samples % chunk:
            sizes.append(num_samples % chunk)
        best_codes, best_distance = None, None
        for index, size in enumerate(sizes):
            # Chaining each chunk on the previous result keeps them sequential, so only
            # one chunk's activations are alive at a time.
            deps = [] if best_distance is None else [best_distance]
            with tf.control_dependencies(deps):
                chunk_seed = tf.random.experimental.stateless_fold_in(seed, index)
                codes, images = sample_fn(chunk_seed, size)
                features = self.features(tf.stop_gradient(images))
                distances = self.selection_distance.to_targets(features, target_features, size)
            nearest = tf.argmin(distances, axis=1, output_type=tf.int32)  # [B]
            distance = tf.reduce_min(distances, axis=1)
            chosen = tuple(tf.gather(code, nearest, axis=1, batch_dims=1) for code in codes)
            if best_distance is None:
                best_codes, best_distance = chosen, distance
                continue
            # Strictly nearer only: ties keep the earlier sample, like a global argmin.
            better = distance < best_distance
            best_codes = tuple(
                tf.where(tf.reshape(better, [-1] + [1] * (len(new.shape) - 1)), new, old)
                for new, old in zip(chosen, best_codes))
            best_distance = tf.where(better, distance, best_distance)
        return best_codes, best_distance

    def _noise(self, seed, batch, samples, height, width):
        return tf.random.stateless_normal(
            [batch, samples, height, width, self.generator.noise_channels], seed=seed)

    @staticmethod
    def _repeat(images, times):
        return tf.repeat(images, times, axis=0)  # [B * times, ...], input-major

    @staticmethod
    def _merge(codes):
        shape = tf.shape(codes)
        return tf.reshape(codes, tf.concat([[shape[0] * shape[1]], shape[2:]], axis=0))

    def select_codes(self, lr, mid, hr):
        """Chooses each input's codes by the configured selection.

        Returns:
            `(z_lo [B, 2h, 2w, c], z_up [B, 4h, 4w, c], lower_distance [B], upper_distance [B])`;
            lower_distance is 0 for joint selection.
        """
        with compute_precision(self._selection_models(), self.selection_precision):
            return self._select_codes(lr, mid, hr)[:4]

    def select_codes_and_targets(self, lr, mid, hr):
        """`select_codes`, plus the features of `hr` as the gradient step computes them.

        Selection computes the target's features anyway; they are returned as they are
        when selection runs at the step's precision, and recomputed otherwise.

        Returns:
            `(z_lo, z_up, lower_distance, upper_distance, hr_features)`.
        """
        with compute_precision(self._selection_models(), self.selection_precision):
            *selected, hr_features = self._select_codes(lr, mid, hr)
        if not self._selection_matches_step_precision():
            hr_features = self.features(hr)
        return (*selected, hr_features)

    def _selection_models(self):
        return (self.generator.lower, self.generator.upper, self.features.trunk)

    def _selection_matches_step_precision(self):
        trunk = self.features.trunk
        return (self.selection_precision == "float32" or trunk is None
                or trunk.compute_dtype == self.selection_precision)

    def _select_codes(self, lr, mid, hr):
        lr = tf.cast(lr, tf.float32)
        shape = tf.shape(lr)
        batch, height, width = shape[0], shape[1], shape[2]
        seed = self._step_seed()
        lower_seed, upper_seed = (tf.random.experimental.stateless_fold_in(seed, s) for s in (1, 2))
        hr_features = self.features(hr)

        if self.selection == "joint":
            def joint_samples(chunk_seed, c):
                z_lo = self._noise(chunk_seed, batch, c, 2 * height, 2 * width)
                z_up = self._noise(chunk_seed + 1, batch, c, 4 * height, 4 * width)
                lr_c = self._repeat(lr, c)
                _, out = self.generator.generate(lr_c, self._merge(z_lo), self._merge(z_up))
                return (z_lo, z_up), out

            (z_lo, z_up), d_up = self._nearest(
                joint_samples, hr_features, self.num_lower_samples + self.num_upper_samples,
                upper_seed)
            return z_lo, z_up, tf.zeros_like(d_up), d_up, hr_features

        def lower_samples(chunk_seed, c):
            z_lo = self._noise(chunk_seed, batch, c, 2 * height, 2 * width)
            lr_c = self._repeat(lr, c)
            return (z_lo,), self.generator.lower([lr_c, lr_c, self._merge(z_lo)])

        (z_lo,), d_lo = self._nearest(lower_samples, self.features(mid), self.num_lower_samples,
                                      lower_seed)
        base = tf.cast(self.generator.lower([lr, lr, z_lo]), tf.float32)  # [B, 2h, 2w, 3]

        def upper_samples(chunk_seed, c):
            z_up = self._noise(chunk_seed, batch, c, 4 * height, 4 * width)
            return (z_up,), self.generator.upper(
                [self._repeat(base, c), self._repeat(lr, c), self._merge(z_up)])

        (z_up,), d_up = self._nearest(upper_samples, hr_features, self.num_upper_samples,
                                      upper_seed)
        return z_lo, z_up, d_lo, d_up, hr_features

    def jitter_codes(self, z_lo, z_up):
        """Adds `code_jitter` * N(0, 1) to chosen codes (a new draw at every call)."""
        if not self.code_jitter:
            return z_lo, z_up
        seed = tf.random.experimental.stateless_fold_in(self._step_seed(), 3)
        return (z_lo + self.code_jitter * tf.random.stateless_normal(tf.shape(z_lo), seed),
                z_up + self.code_jitter * tf.random.stateless_normal(tf.shape(z_up), seed + 1))

    # ---- training and evaluation --------------------------------------------------------

    def _check_batch(self, data):
        if not isinstance(data, (tuple, list)) or len(data) not in (3, 5, 6):
            raise ValueError("SRIM trains on batches of (lr, mid, hr), (lr, mid, hr, z_lo, z_up)"
                             " or (lr, mid, hr, z_lo, z_up, hr_features). Received:"
                             f" {type(data).__name__} of {len(data) if isinstance(data, (tuple, list)) else 1}")
        if len(data) == 6:
            missing = set(self.features.layers) - set(data[5])
            if missing:
                raise ValueError(f"hr_features lacks the layers {sorted(missing)}; it needs"
                                 f" {list(self.features.layers)}. Received: {sorted(data[5])}")
        for name, images in zip(("lr", "mid", "hr"), data[:3]):
            options.check_images(name, images)

    def _loss(self, lr, mid, hr, z_lo, z_up, training, hr_features=None):
        out_mid, out = self.generator.generate(lr, z_lo, z_up, training=training)
        if hr_features is None:
            hr_features = self.features(hr)
        loss = self.loss_distance.paired(self.features(out), hr_features)
        if self.mid_loss_weight:
            loss += self.mid_loss_weight * self.loss_distance.paired(
                self.features(out_mid), self.features(mid))
        if self.zero_code_loss_weight:
            _, out_zero = self.generator.generate(lr, tf.zeros_like(z_lo), tf.zeros_like(z_up),
                                                  training=training)
            loss += self.zero_code_loss_weight * self.loss_distance.paired(
                self.features(out_zero), hr_features)
        return tf.reduce_mean(loss), out

    def train_step(self, data):
        self._check_batch(data)
        lr, mid, hr = (tf.cast(x, self.compute_dtype) for x in data[:3])
        if len(data) >= 5:
            z_lo, z_up = data[3], data[4]
            d_lo = d_up = None
            hr_features = data[5] if len(data) == 6 else None
        else:
            z_lo, z_up, d_lo, d_up, hr_features = self.select_codes_and_targets(lr, mid, hr)
        z_lo, z_up = tf.stop_gradient(z_lo), tf.stop_gradient(z_up)
        # Freshly chosen codes get their jitter now in either mode; given (reused) codes
        # carry the jitter drawn when they were chosen, unless it is redrawn every step.
        if d_lo is not None or self.code_jitter_mode == "per_step":
            z_lo, z_up = self.jitter_codes(z_lo, z_up)
        with tf.GradientTape() as tape:
            loss, out = self._loss(lr, mid, hr, z_lo, z_up, training=True,
                                   hr_features=hr_features)
            # Gradients are summed across replicas, so each replica scales its share.
            scaled = loss / tf.distribute.get_strategy().num_replicas_in_sync
            if hasattr(self.optimizer, "scale_loss"):
                scaled = self.optimizer.scale_loss(scaled)
        variables = self.generator.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        self.loss_tracker.update_state(loss)
        if d_lo is not None:
            self.lower_distance_tracker.update_state(tf.reduce_mean(d_lo))
            self.upper_distance_tracker.update_state(tf.reduce_mean(d_up))
        self.psnr_tracker.update_state(metrics.y_psnr(out, hr))
        reported = [self.loss_tracker, self.psnr_tracker]
        if d_lo is not None:  # Selection ran in this step (not reused codes).
            reported += [self.lower_distance_tracker, self.upper_distance_tracker]
        return {m.name: m.result() for m in reported}

    def test_step(self, data):
        self._check_batch(data)
        lr, mid, hr = (tf.cast(x, self.compute_dtype) for x in data[:3])
        z_lo, z_up, d_lo, d_up, hr_features = self.select_codes_and_targets(lr, mid, hr)
        loss, out = self._loss(lr, mid, hr, z_lo, z_up, training=False, hr_features=hr_features)
        self.loss_tracker.update_state(loss)
        self.lower_distance_tracker.update_state(tf.reduce_mean(d_lo))
        self.upper_distance_tracker.update_state(tf.reduce_mean(d_up))
        self.psnr_tracker.update_state(metrics.y_psnr(out, hr))
        zero = self.super_resolve(lr, num_samples=1, noise_scale=0.0)[:, 0]
        self.zero_noise_psnr_tracker.update_state(metrics.y_psnr(zero, hr))
        return {m.name: m.result() for m in self.metrics}

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
        options.check_images("lr", lr, dtypes=("float32", "float16", "bfloat16", "float64"))
        options.check_positive_int("num_samples", num_samples)
        return super_resolve_with(self.generator, tf.cast(lr, tf.float32), num_samples, seed,
                                  noise_scale, offset)


def super_resolve_with(generator, lr, num_samples, seed, noise_scale, offset=(0, 0)):
    """`SRIM.super_resolve` for a bare generator (tensor arguments allowed, for export)."""
    shape = tf.shape(lr)
    batch, height, width = shape[0], shape[1], shape[2]
    channels = generator.noise_channels
    y0, x0 = offset

    def one_sample(k):
        z_lo = noise.positional_normal(seed, k, 0, 2 * y0, 2 * x0, 2 * height, 2 * width, channels)
        z_up = noise.positional_normal(seed, k, 1, 4 * y0, 4 * x0, 4 * height, 4 * width, channels)
        z_lo = tf.tile(z_lo[None] * noise_scale, [batch, 1, 1, 1])
        z_up = tf.tile(z_up[None] * noise_scale, [batch, 1, 1, 1])
        return tf.cast(generator([lr, z_lo, z_up]), tf.float32)

    samples = tf.map_fn(one_sample, tf.range(num_samples),
                        fn_output_signature=tf.TensorSpec(None, tf.float32))
    return tf.transpose(samples, [1, 0, 2, 3, 4])
