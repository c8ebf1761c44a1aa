"""srim_export: writes a TF Serving SavedModel (EXPORT_DIR/<version>/) from a trained model.

Usage: srim_export --workdir=WORKDIR --export_dir=/models/srim [--version=N]
"""

from absl import app, flags, logging

from srim_tf import export
from srim_tf.inference import receptive_field
from srim_tf.checkpoints import load_generator
from srim_tf.samplers import load_pretrained

flags.DEFINE_string("workdir", None, "A srim_train workdir or checkpoint; 'pretrained' for the shipped model.")
flags.DEFINE_string("export_dir", None, "Model base path for TF Serving.")
flags.DEFINE_integer("version", None, "Version folder (default: the next integer).")
flags.DEFINE_float("noise_scale", 0.0, "Noise scale of serving_default and encoded (0: deterministic).")
flags.DEFINE_integer("max_input_pixels", 1024 * 1024, "Largest input height * width accepted.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if not FLAGS.workdir or not FLAGS.export_dir:
        raise app.UsageError("--workdir and --export_dir are required.")
    if FLAGS.workdir == "pretrained":
        generator = load_pretrained()
    else:
        generator = load_generator(FLAGS.workdir)[0]
    path = export.export(generator, FLAGS.export_dir, FLAGS.version, FLAGS.noise_scale,
                         FLAGS.max_input_pixels,
                         receptive_field(generator.num_convs, generator.kernel_size))
    logging.info("Exported %s", path)
    print(path)


def run():
    app.run(main)


if __name__ == "__main__":
    run()
