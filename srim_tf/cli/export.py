"""srim_export: writes a TF Serving SavedModel (EXPORT_DIR/<version>/) from a trained model.

Usage: srim_export --model=WORKDIR --export_dir=/models/srim [--version=N]
       srim_export --model=WORKDIR --tflite=srim.tflite [--tflite_lr_size=64,64]
       srim_export --model=WORKDIR --pretrained_dir=my_model
"""

import dataclasses
from typing import Optional, Tuple

from absl import app, logging

from srim_tf.cli import runner, settings_flags
from srim_tf.cli.inference_settings import InferenceSettings, noise_scale_setting
from srim_tf.settings import MAX_REQUEST_PIXELS_LIMIT, SERVING_TILE_SIZE, setting

# Old names of srim_export's flags: --model was --workdir (it takes any model), and
# --serving_tile_size --tile_size (srim_sample's --tile_size is another tile).
RENAMED = {"workdir": "model", "tile_size": "serving_tile_size"}


@dataclasses.dataclass(frozen=True)
class ExportSettings(InferenceSettings):
    """What srim_export writes; each field is its flag. One of export_dir, pretrained_dir and
    tflite names the output."""

    export_dir: Optional[str] = setting(None, "Model base path for TF Serving.")
    version: Optional[int] = setting(None, "Version folder (default: the next integer).", minimum=1)
    noise_scale: float = noise_scale_setting(0.0)
    max_input_pixels: int = setting(1024 * 1024, "Largest input height * width accepted.", minimum=1)
    max_request_pixels: int = setting(
        1024 * 1024, "Largest total work of one request, images x num_samples x height x width (the"
        " sum of height x width for `encoded`): bounds a request's input and output.",
        minimum=1, maximum=MAX_REQUEST_PIXELS_LIMIT)
    serving_tile_size: int = setting(
        SERVING_TILE_SIZE, "LR tile side the signatures compute in, one tile at a time:"
        " sets the model's peak memory per request, whatever the request's size. Was --tile_size.",
        minimum=1)
    pretrained_dir: Optional[str] = setting(
        None, "Instead of a SavedModel, write the generator as a pretrained-model folder (weights +"
        " config.json), as shipped in srim_tf/pretrained/.")
    tflite: Optional[str] = setting(
        None, "Instead of a SavedModel, write the generator as a TensorFlow Lite file (PATH.tflite)"
        " for on-device sampling: inputs lr, z_lo, z_up (noise), output hr.")
    tflite_lr_size: Tuple[int, ...] = setting(
        (), "height,width of the LR input the .tflite file is fixed to (empty: any size).", minimum=1,
        check=(lambda v: len(v) in (0, 2), "empty or two numbers, height,width"))

    def __post_init__(self):
        super().__post_init__()
        outputs = [self.export_dir, self.pretrained_dir, self.tflite]
        if sum(bool(o) for o in outputs) != 1:
            raise runner.CommandLineError("Give one of --export_dir, --pretrained_dir and --tflite.")
        if self.precision not in (None, "float32") and not self.export_dir:
            raise runner.CommandLineError(
                "--precision applies to SavedModel exports (--export_dir); weights folders and"
                f" .tflite files are float32. Received: --precision={self.precision}")


def export_model(settings):
    """srim_export's work: writes what `settings` names; returns the path written."""
    from srim_tf.model.loading import load_generator
    from srim_tf.model.pretrained import save_pretrained
    from srim_tf.serving import saved_model, tflite

    loaded = load_generator(settings.model)
    if settings.pretrained_dir:
        save_pretrained(loaded.generator, loaded.config, settings.pretrained_dir, loaded.checkpoint)
        return settings.pretrained_dir
    if settings.tflite:
        return tflite.write_tflite(loaded.generator, settings.tflite, list(settings.tflite_lr_size))
    path = saved_model.export(loaded.generator, settings.export_dir, settings.version,
                              settings.noise_scale, settings.max_input_pixels,
                              settings.max_request_pixels, settings.consistency_iterations,
                              settings.precision or "float32", settings.serving_tile_size)
    logging.info("Exported %s", path)
    return path


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    settings = ExportSettings(**settings_flags.flag_values_of(ExportSettings, RENAMED))
    runner.start_tensorflow()
    print(export_model(settings))


def run():
    settings_flags.define_flags(ExportSettings, __name__)
    settings_flags.define_renamed(ExportSettings, RENAMED, __name__)
    runner.run(main)


if __name__ == "__main__":
    run()
