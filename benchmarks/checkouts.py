"""The run settings of another checkout of this repository, for timing two checkouts by turns.

A turn (a fresh process) imports `srim_tf` from one checkout. Checkouts from before settings
were declared once (no srim_tf/settings.py) took their defaults from absl flags and named
conv4 `conv4_4`; `run_settings` builds either kind's settings from one flat dict.
"""

import os

OLD_NAMES = {"loss_conv4_weight": "loss_conv4_4_weight",
             "selection_conv4_weight": "selection_conv4_4_weight"}


def declares_settings(checkout):
    return os.path.isfile(os.path.join(checkout, "srim_tf", "settings.py"))


def run_settings(checkout, flat):
    """The checkout's `RunSettings` of the defaults and `flat` (today's flag names)."""
    if declares_settings(checkout):
        from srim_tf.settings import RunSettings

        return RunSettings().replace(**flat)
    from absl import flags as absl_flags

    from srim_tf.cli import flags as srim_flags
    from srim_tf.training.settings import RunSettings

    if not absl_flags.FLAGS.is_parsed():
        absl_flags.FLAGS(["turn"])
    config = srim_flags.values()
    config.update({OLD_NAMES.get(name, name): value for name, value in flat.items()})
    return RunSettings.from_dict(config)


def dataset(checkout, settings):
    """The checkout's training stream for `settings` (its data API changed with the settings)."""
    from srim_tf.data import datasets

    if declares_settings(checkout):
        return datasets.make_dataset(settings.data)
    from srim_tf.training import build

    return datasets.make_dataset(build.data_config(settings))
