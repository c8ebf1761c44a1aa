"""srim_export: writes a TF Serving SavedModel (EXPORT_DIR/<version>/) from a trained model.

Usage: srim_export --workdir=WORKDIR --export_dir=/models/srim [--version=N]
       srim_export --workdir=WORKDIR --tflite=srim.tflite [--tflite_lr_size=64,64]
"""

from absl import app, flags, logging

from srim_tf.serving import saved_model
from srim_tf.cli import flag_checks
from srim_tf.serving import tflite
from srim_tf.inference.tiling import receptive_field
from srim_tf.model.checkpoints import load_generator
from srim_tf.model.pretrained import load_pretrained, save_pretrained, shipped_dir
from srim_tf.cli import inference_flags, runner

flags.DEFINE_string("workdir", None, "A srim_train workdir or checkpoint; 'pretrained' for the shipped model.")
flags.DEFINE_string("export_dir", None, "Model base path for TF Serving.")
flags.DEFINE_integer("version", None, "Version folder (default: the next integer).")
flags.DEFINE_float("noise_scale", 0.0, "Noise scale of serving_default and encoded (0: deterministic).")
flags.DEFINE_integer("max_input_pixels", 1024 * 1024, "Largest input height * width accepted.")
flags.DEFINE_integer("max_request_pixels", 1024 * 1024,
                     "Largest total work of one request, images x num_samples x height x width"
                     " (the sum of height x width for `encoded`): bounds a request's input and output.")
flags.DEFINE_integer("tile_size", saved_model.DEFAULT_TILE_SIZE,
                     "LR tile side the signatures compute in, one tile at a time: sets the model's"
                     " peak memory per request, whatever the request's size.")
flags.DEFINE_string("pretrained_dir", None,
                    "Instead of a SavedModel, write the generator as a pretrained-model folder"
                    " (weights + config.json), as shipped in srim_tf/pretrained/.")
flags.DEFINE_string("tflite", None,
                    "Instead of a SavedModel, write the generator as a TensorFlow Lite file"
                    " (PATH.tflite) for on-device sampling: inputs lr, z_lo, z_up (noise), output hr.")
flags.DEFINE_list("tflite_lr_size", [],
                  "height,width of the LR input the .tflite file is fixed to (empty: any size).")
FLAGS = flags.FLAGS
flags.adopt_module_key_flags(inference_flags)
flag_checks.noise_scale()
flag_checks.at_least("max_input_pixels", 1)
flag_checks.at_least("version", 1)
flag_checks.at_least("tile_size", 1)
flags.register_validator("max_request_pixels", lambda v: 1 <= v <= saved_model.MAX_REQUEST_PIXELS_LIMIT,
                         message=f"must be in [1, {saved_model.MAX_REQUEST_PIXELS_LIMIT}]")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if not FLAGS.workdir or not (FLAGS.export_dir or FLAGS.pretrained_dir or FLAGS.tflite):
        raise app.UsageError("--workdir and --export_dir (or --pretrained_dir or --tflite) are required.")
    if FLAGS.precision != "float32" and (FLAGS.pretrained_dir or FLAGS.tflite):
        raise app.UsageError("--precision applies to SavedModel exports (--export_dir); weights"
                             " folders and .tflite files are float32. Received:"
                             f" --precision={FLAGS.precision}")
    if FLAGS.pretrained_dir:
        generator, config, checkpoint = load_generator(FLAGS.workdir)
        save_pretrained(generator, config, FLAGS.pretrained_dir, checkpoint)
        print(FLAGS.pretrained_dir)
        return
    if shipped_dir(FLAGS.workdir):
        generator = load_pretrained(shipped_dir(FLAGS.workdir))
    else:
        generator = load_generator(FLAGS.workdir)[0]
    if FLAGS.tflite:
        print(tflite.write_tflite(generator, FLAGS.tflite, FLAGS.tflite_lr_size))
        return
    path = saved_model.export(generator, FLAGS.export_dir, FLAGS.version, FLAGS.noise_scale,
                         FLAGS.max_input_pixels,
                         receptive_field(generator.num_convs, generator.kernel_size),
                         FLAGS.max_request_pixels,
                         inference_flags.consistency_iterations(),
                         FLAGS.precision, FLAGS.tile_size)
    logging.info("Exported %s", path)
    print(path)


def run():
    runner.run(main)


if __name__ == "__main__":
    run()
