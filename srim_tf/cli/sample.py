"""srim_sample: super-resolves images, K samples each, with contact sheets and std maps.

Usage: srim_sample --input=photo.jpg --input=folder/ --output_dir=out [--model=WORKDIR]
Writes OUTPUT_DIR/<name>_x4_s<k>.png per sample, <name> being the input's path below the
folder all inputs share (with its extension when two inputs differ only by it); with
--contact_sheet, <name>_x4_sheet.png (bicubic beside the samples, each panel shrunk to at
most 2048 pixels a side) and <name>_x4_std.png (per-pixel std across samples).
Exits with status 1 if any input failed; the others are still processed.
"""

import contextlib
import os
import sys

import numpy as np
import tensorflow as tf
from absl import app, flags, logging
from tqdm import tqdm

from srim_tf import errors
from srim_tf.cli import flag_checks
from srim_tf.data import image_io
from srim_tf.inference import outputs, tiling
from srim_tf.cli.output_names import output_stems
from srim_tf.inference.samplers import load_sampler
from srim_tf.cli import inference_flags, runner

flags.DEFINE_multi_string("input", None, "Image file, folder (recursive) or glob; repeatable.")
flags.DEFINE_string("output_dir", None, "Where the outputs go (created if missing).")
flags.DEFINE_string("model", "pretrained", "pretrained | a srim_train workdir | a checkpoint | a SavedModel.")
flags.DEFINE_integer("num_samples", 1, "Samples per input (K).")
flags.DEFINE_integer("seed", 0, "Noise seed: the same seed gives the same samples.")
flags.DEFINE_float("noise_scale", 1.0, "0: deterministic output at z = 0; 1: the training distribution.")
flags.DEFINE_integer("tile_size", tiling.DEFAULT_TILE_SIZE, "Tile size in LR pixels (0: whole image at once).")
flags.DEFINE_integer("overlap", None, "Context margin per tile in LR pixels (default: receptive field).")
flags.DEFINE_bool("contact_sheet", False, "Also write a contact sheet and a std map per input.")
FLAGS = flags.FLAGS
flags.adopt_module_key_flags(inference_flags)
flag_checks.at_least("num_samples", 1)
flag_checks.at_least("tile_size", 0)
flag_checks.at_least("overlap", 0)
flag_checks.noise_scale()


def process(sampler, path, stem, output_dir, inputs):
    """Writes the outputs of one input file under OUTPUT_DIR/<stem>_x4_*; returns their paths.

    Streams: each row of tiles goes to every output as it comes (samples, std map, sheet
    panels), so memory holds one band of rows, not K whole 4x images. Every file appears
    only once complete (renamed from `.partial`); if the work fails midway, the partial
    files are removed and none of this input's outputs appear.
    """
    image = image_io.read_image(path)
    num_samples = FLAGS.num_samples
    samples = [os.path.join(output_dir, f"{stem}_x4_s{k}.png") for k in range(num_samples)]
    sheet_path = os.path.join(output_dir, f"{stem}_x4_sheet.png")
    std_path = os.path.join(output_dir, f"{stem}_x4_std.png")
    targets = samples + ([sheet_path, std_path] if FLAGS.contact_sheet else [])
    for target in targets:  # Before anything is written.
        if os.path.realpath(target) in inputs:
            raise ValueError(f"Refusing to overwrite the input file {target}")
    bands = tiling.super_resolve_bands(
        sampler, image.rgb, num_samples, FLAGS.seed, FLAGS.noise_scale, FLAGS.tile_size,
        FLAGS.overlap)
    os.makedirs(os.path.dirname(os.path.join(output_dir, stem)), exist_ok=True)
    height, width = tiling.SCALE * image.rgb.shape[0], tiling.SCALE * image.rgb.shape[1]
    channels = (1 if image.grey else 3) + (image.alpha is not None)
    with contextlib.ExitStack() as files:  # Closed (renamed into place) only on success.
        writers = [files.enter_context(image_io.PngWriter(target, height, width, channels,
                                                          image.sixteen_bit))
                   for target in samples]
        if FLAGS.contact_sheet:
            std_writer = files.enter_context(image_io.PngWriter(std_path, height, width, 1))
            sheet = outputs.ContactSheet(image.rgb, num_samples)
        for y, band in bands:
            lr_rows = (y // tiling.SCALE, (y + band.shape[1]) // tiling.SCALE)
            alpha = (outputs.upscale_alpha(image.alpha, lr_rows)[..., None]
                     if image.alpha is not None else None)
            for writer, sample in zip(writers, band):
                pixels = outputs.to_grey(sample) if image.grey else sample
                writer.write(pixels if alpha is None else np.concatenate([pixels, alpha], axis=-1))
            if FLAGS.contact_sheet:
                std_writer.write(outputs.std_map(band)[..., None])
                sheet.add(band)
        if FLAGS.contact_sheet:
            image_io.write_png(sheet_path, sheet.sheet)
    return targets


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if not FLAGS.input or not FLAGS.output_dir:
        raise app.UsageError("--input and --output_dir are required.")
    if FLAGS.num_samples < 1:
        raise app.UsageError(f"--num_samples must be >= 1. Received: {FLAGS.num_samples}")
    paths = image_io.expand_inputs(FLAGS.input)
    # Outputs of an earlier run in a folder inside an input folder are not inputs (no
    # outputs of outputs). An output folder that is itself an input folder is left to the
    # never-overwrite check.
    output_root = os.path.realpath(FLAGS.output_dir)
    input_folders = {os.path.realpath(item) for item in FLAGS.input if os.path.isdir(item)}
    earlier = [] if output_root in input_folders else [
        p for p in paths if os.path.realpath(p).startswith(output_root + os.sep)]
    if earlier:
        logging.info("Not reading %d image(s) under --output_dir=%s as inputs.", len(earlier), FLAGS.output_dir)
        paths = [p for p in paths if p not in earlier]
    if not paths:
        raise app.UsageError(f"No input images found in {FLAGS.input}")
    stems = output_stems(paths)
    sampler = load_sampler(FLAGS.model, consistency_iterations=(
        inference_flags.consistency_iterations()),
        precision=FLAGS.precision if FLAGS["precision"].present else None)
    logging.info("Model: %s", sampler.description)
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    inputs = {os.path.realpath(p) for p in paths}
    failed = []
    for path in tqdm(paths, unit="image"):
        try:
            process(sampler, path, stems[path], FLAGS.output_dir, inputs)
        except (ValueError, OSError, tf.errors.OpError) as error:
            # One image the model refuses (a SavedModel's bound, a bad tile) is skipped alone.
            failed.append(path)
            logging.error("Skipped %s: %s", path, errors.one_line(error))
    logging.info("Done: %d written, %d failed.", len(paths) - len(failed), len(failed))
    if failed:
        sys.exit(1)


def run():
    runner.run(main)


if __name__ == "__main__":
    run()
