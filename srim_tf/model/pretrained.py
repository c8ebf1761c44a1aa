"""The small pretrained model shipped inside the package, and how it is written.

srim_tf/pretrained/ holds `generator.weights.h5` (Keras weights), `config.json` (the
generator settings and the training run's flags) and `MODEL_CARD.md`.
"""

import json
import os

from srim_tf.model.generator import SRIMGenerator, generator_settings

# The shipped model is data of the package, in srim_tf/pretrained/.
PRETRAINED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pretrained")


def load_pretrained(directory=PRETRAINED_DIR):
    """The shipped generator, ready to sample."""
    config_path = os.path.join(directory, "config.json")
    if not os.path.isfile(config_path):
        raise ValueError(f"No pretrained model is installed (expected {config_path}).")
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    generator = SRIMGenerator(**generator_settings(config["generator"]))
    generator.load_weights(os.path.join(directory, "generator.weights.h5"))
    return generator


def settings(directory=PRETRAINED_DIR):
    """The generator settings of a pretrained model folder."""
    with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
        return generator_settings(json.load(f)["generator"])


def save_pretrained(generator, run_config, directory, checkpoint):
    """Writes a generator and the flags that trained it as a pretrained model folder."""
    os.makedirs(directory, exist_ok=True)
    generator.save_weights(os.path.join(directory, "generator.weights.h5"))
    config = {"generator": generator_settings(run_config),
              "checkpoint": os.path.basename(checkpoint), "training_flags": run_config}
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
