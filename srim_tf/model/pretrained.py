"""The small pretrained models shipped inside the package, and how one is written.

Each shipped model is a folder of the package holding `generator.weights.h5` (Keras
weights), `config.json` (the generator settings and the training run's flags) and
`MODEL_CARD.md`. Programs name them:
    "pretrained"       srim_tf/pretrained/, the default: samples chosen for realism.
    "pretrained_psnr"  srim_tf/pretrained_psnr/: the earlier pixel-trained model, higher
                       PSNR and blurrier samples.
    "pretrained_photos"  srim_tf/pretrained_photos/: for photographs as they come (blur,
                       sensor noise, JPEG), trained on LR degraded that way.
"""

import json
import os

from srim_tf import safe_files
from srim_tf.model.generator import SRIMGenerator
from srim_tf.settings import SHIPPED_MODELS, GeneratorSettings

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = SHIPPED_MODELS
PRETRAINED_DIR = os.path.join(_PACKAGE_DIR, "pretrained")


def shipped_dir(name):
    """The folder of the shipped model `name` (one of `SHIPPED`), or None for other names."""
    return os.path.join(_PACKAGE_DIR, name) if name in SHIPPED else None


def weights_path(directory):
    return os.path.join(directory, "generator.weights.h5")


def is_pretrained_folder(directory):
    """Whether `directory` holds a pretrained-model folder's two files."""
    return all(os.path.isfile(os.path.join(directory, name))
               for name in ("generator.weights.h5", "config.json"))


def read_folder(directory=PRETRAINED_DIR):
    """`(generator, run config)` of a pretrained-model folder; the generator is float32."""
    config_path = os.path.join(directory, "config.json")
    if not os.path.isfile(config_path):
        raise ValueError(f"No pretrained model is installed (expected {config_path}).")
    try:
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
        settings = GeneratorSettings.from_config(config["generator"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:  # JSON errors too
        raise ValueError(f"{config_path} is not a pretrained model's config ({error}).") from error
    generator = SRIMGenerator(settings)
    generator.load_weights(weights_path(directory))
    return generator, config.get("training_flags", {})


def save_pretrained(generator, run_config, directory, checkpoint):
    """Writes a generator and the flags that trained it as a pretrained model folder.

    Each file is written whole or not at all (`safe_files`): a failure midway (a full
    disk) leaves an existing folder's files as they were.
    """
    os.makedirs(directory, exist_ok=True)
    config = {"generator": generator.settings.as_dict(),
              "checkpoint": os.path.basename(checkpoint), "training_flags": run_config}
    with safe_files.temporary_for(weights_path(directory)) as weights:
        generator.save_weights(weights)
    with safe_files.written_whole(os.path.join(directory, "config.json"), encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
