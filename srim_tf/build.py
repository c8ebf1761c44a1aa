"""Builds the data config, generator, distances, model and optimizer from a flat config.

The config is a dict of flag values (`flags.py` names). Training, sampling, evaluation and
export all build through here, so a setting means the same thing everywhere.
"""

import keras

from srim_tf.data import DataConfig
from srim_tf.distances import Distance
from srim_tf.features import load_vgg_trunk
from srim_tf.model import SRIMGenerator

# Flags that define the generator: a workdir trained with other values cannot be resumed.
GENERATOR_KEYS = ("channels", "kernel_size", "num_convs", "noise_channels", "normalization",
                  "activation", "stage_output")
# What workdirs and pretrained folders written before a key existed were trained with.
GENERATOR_KEY_DEFAULTS = {"stage_output": "sigmoid"}


def generator_settings(config):
    """The generator's settings in a config, old configs included."""
    return {key: config.get(key, GENERATOR_KEY_DEFAULTS.get(key)) for key in GENERATOR_KEYS}


def data_config(config):
    return DataConfig(
        sources=config["data"], hr_size=config["hr_size"], hr_mode=config["hr_mode"],
        patches_per_image=config["patches_per_image"], batch_size=config["batch_size"],
        augment=config["augment"], degradations=tuple(config["degradations"]),
        cache=config["cache_data"], seed=config["seed"], tfds_data_dir=config["tfds_data_dir"],
        tfds_classes=tuple(int(c) for c in config["tfds_classes"]),
        tfds_per_class=config["tfds_per_class"],
        held_out=0 if config.get("validation_data") else config.get("num_validation_images", 0))


def generator(config):
    return SRIMGenerator(**generator_settings(config))


def distances(config):
    """`(selection_distance, loss_distance)`."""
    def weights(prefix):
        return {layer: config[f"{prefix}_{layer}_weight"]
                for layer in ("pixel", "conv2_2", "conv4_4")}

    def rename(w):
        return {("pixels" if k == "pixel" else k): v for k, v in w.items()}

    selection = Distance(rename(weights("selection")), config["selection_distance"],
                         config["projection"], config["projection_dim"], config["projection_seed"])
    loss = Distance(rename(weights("loss")), config["loss_distance"])
    return selection, loss


def needs_vgg(config):
    return any(config[f"{p}_{layer}_weight"] for p in ("loss", "selection")
               for layer in ("conv2_2", "conv4_4"))


def srim(config):
    """`(model, vgg_source)`; call inside the strategy scope. vgg_source: 'imagenet', 'random' or a path."""
    from srim_tf.imle import SRIM  # Here, so loading a generator never imports training.

    keras.utils.set_random_seed(config["seed"])
    trunk, vgg_source = (load_vgg_trunk(config["vgg_weights"], config["seed"])
                         if needs_vgg(config) else (None, "unused"))
    selection, loss = distances(config)
    model = SRIM(generator(config), trunk, selection, loss,
                 num_lower_samples=config["num_lower_samples"],
                 num_upper_samples=config["num_upper_samples"],
                 sample_chunk=config["sample_chunk"], selection=config["selection"],
                 mid_loss_weight=config["mid_loss_weight"],
                 zero_code_loss_weight=config["zero_code_loss_weight"], code_jitter=config["code_jitter"],
                 code_jitter_mode=config["code_jitter_mode"],
                 seed=config["seed"], selection_precision=config["selection_precision"],
                 selection_patch=config["selection_patch"])
    return model, vgg_source


def learning_rate(config):
    steps = sorted(int(s) for s in config["lr_decay_steps"])
    if not steps:
        return config["learning_rate"]
    values = [config["learning_rate"] * config["lr_decay_factor"] ** i for i in range(len(steps) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(steps, values)


def optimizer(config):
    # Betas (0.9, 0.999) as in the authors' code.
    return keras.optimizers.Adam(learning_rate(config), beta_1=0.9, beta_2=0.999)
