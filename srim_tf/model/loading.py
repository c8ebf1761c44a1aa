"""`load_generator(spec)`: a trained generator from any name a program accepts for a model.

One vocabulary for every program that reads a model (srim_sample and srim_eval `--model`,
srim_export `--model`, srim_train `--init_from`):
    "pretrained", "pretrained_psnr",
    "pretrained_photos"              the models shipped inside the package
    a pretrained folder              generator.weights.h5 + config.json (srim_export --pretrained_dir)
    a workdir                        its newest readable checkpoint (srim_train --workdir)
    a checkpoint                     WORKDIR/checkpoints, or a prefix such as .../ckpt-1000
    a SavedModel                     srim_export --export_dir: a version folder or its parent
                                     (newest version); it records its generator's settings
"""

import json
import os
import typing

import tensorflow as tf

from srim_tf.model import checkpoints, pretrained
from srim_tf.model.generator import SRIMGenerator
from srim_tf.settings import SHIPPED_NAMES, GeneratorSettings

ACCEPTED = (f"{SHIPPED_NAMES}, a pretrained folder, a srim_train workdir, a checkpoint"
            " or an exported SavedModel")
# The variable a SavedModel written by srim_export records its generator's settings in.
SAVED_MODEL_SETTINGS = "generator_settings"


class LoadedGenerator(typing.NamedTuple):
    generator: SRIMGenerator
    config: dict  # the flat settings of the run that trained it ({} when not recorded)
    checkpoint: typing.Optional[str]  # the checkpoint or weights file read
    description: str  # for logs: "shipped model pretrained", "checkpoint .../ckpt-300", ...


def saved_model_dir(path):
    """The SavedModel folder `path` names (itself, or its newest numbered version), or None."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    if os.path.isdir(path):
        for version in sorted((int(n) for n in os.listdir(path) if n.isdigit()), reverse=True):
            candidate = os.path.join(path, str(version))
            if os.path.isfile(os.path.join(candidate, "saved_model.pb")):
                return candidate
    return None


def _from_saved_model(directory):
    variables = checkpoints.readable_prefix(os.path.join(directory, "variables", "variables"))
    reader = tf.train.load_checkpoint(variables)
    key = next((name for name in reader.get_variable_to_shape_map()
                if name.startswith(SAVED_MODEL_SETTINGS + "/")), None)
    if key is None:
        raise ValueError(f"The SavedModel {directory} does not record its generator's settings (it"
                         " was exported before they were recorded, or not by srim_export): load the"
                         " workdir or pretrained folder it was exported from.")
    config = json.loads(reader.get_tensor(key).decode())
    generator = SRIMGenerator(GeneratorSettings.from_config(config))
    tf.train.Checkpoint(generator=generator).restore(variables).expect_partial()
    return LoadedGenerator(generator, config, variables, f"SavedModel {directory}")


def load_generator(spec):
    """The generator `spec` names (see the module docstring), float32, ready to sample.

    Raises:
        ValueError: naming `spec` and what is accepted, when no model is found there, or
            naming the damaged file when one is.
    """
    directory = pretrained.shipped_dir(spec) or spec
    if pretrained.is_pretrained_folder(directory):
        generator, config = pretrained.read_folder(directory)
        name = f"shipped model {spec}" if pretrained.shipped_dir(spec) else f"pretrained folder {spec}"
        return LoadedGenerator(generator, config, pretrained.weights_path(directory), name)
    exported = saved_model_dir(spec)
    if exported:
        return _from_saved_model(exported)
    if checkpoints.latest_checkpoint(spec):
        generator, config, checkpoint = checkpoints.restore_generator(spec)
        return LoadedGenerator(generator, config, checkpoint, f"checkpoint {checkpoint}")
    raise ValueError(f"No model found. Expected {ACCEPTED}. Received: {spec}")


