"""srim_sample: super-resolves images, K samples each, with contact sheets and std maps.

Usage: srim_sample --input=photo.jpg --input=folder/ --output_dir=out [--model=WORKDIR]
Writes OUTPUT_DIR/<name>_x4_s<k>.png per sample, <name> being the input's path below the
folder all inputs share (with its extension when two inputs differ only by it); with
--contact_sheet, <name>_x4_sheet.png (labelled panels: the input enlarged, bicubic, the
samples and their std map, each shrunk to at most 2048 pixels a side) and <name>_x4_std.png
(per-pixel std across samples: white where they differ most; scale under --contact_sheet).
Exits with status 1 if any input failed; the others are still processed.
"""

import contextlib
import dataclasses
import os
import sys
from typing import Optional, Tuple

import numpy as np
from absl import app, logging

from srim_tf import errors, progress, safe_files
from srim_tf.cli import output_names, runner, settings_flags
from srim_tf.cli.inference_settings import SamplingSettings, noise_scale_setting
from srim_tf.folder_lock import FolderLock
from srim_tf.settings import STD_WHITE, setting


@dataclasses.dataclass(frozen=True)
class SampleSettings(SamplingSettings):
    """What srim_sample does; each field is its flag."""

    input: Tuple[str, ...] = setting((), "Image file, folder (recursive) or glob; repeatable.",
                                     required=True, repeatable=True)
    output_dir: Optional[str] = setting(None, "Where the outputs go (created if missing).", required=True)
    noise_scale: float = noise_scale_setting(1.0)
    overlap: Optional[int] = setting(None, "Context margin per tile in LR pixels (default: the"
                                     " model's receptive field).", minimum=0)
    contact_sheet: bool = setting(
        False, "Also write per input a contact sheet (labelled LR, bicubic, samples, std map) and a"
        f" std map: per-pixel std across samples, white = {STD_WHITE} grey levels or more.")


def process(settings, sampler, path, stem, inputs):
    """Writes the outputs of one input file under OUTPUT_DIR/<stem>_x4_*; returns their paths.

    Streams: each row of tiles goes to every output as it comes (samples, std map, sheet
    panels), so memory holds one band of rows, not K whole 4x images. Every file appears
    only once complete (renamed from `.partial-<name>`); if the work fails midway, the partial
    files are removed and none of this input's outputs appear.
    """
    from srim_tf.data import image_io
    from srim_tf.inference import output_files, outputs, tiling
    from srim_tf.model.generator import SCALE

    image = image_io.read_image(path)
    num_samples, output_dir = settings.num_samples, settings.output_dir
    samples = [os.path.join(output_dir, output_files.sample_name(stem, k)) for k in range(num_samples)]
    sheet_path = os.path.join(output_dir, output_files.sheet_name(stem))
    std_path = os.path.join(output_dir, output_files.std_name(stem))
    targets = samples + ([sheet_path, std_path] if settings.contact_sheet else [])
    for target in targets:  # Before anything is written.
        if os.path.realpath(target) in inputs:
            raise ValueError(f"Refusing to overwrite the input file {target}")
    bands = tiling.super_resolve_bands(
        sampler, image.rgb, num_samples, settings.seed, settings.noise_scale, settings.tile_size,
        settings.overlap)
    os.makedirs(os.path.dirname(os.path.join(output_dir, stem)), exist_ok=True)
    height, width = SCALE * image.rgb.shape[0], SCALE * image.rgb.shape[1]
    channels = (1 if image.grey else 3) + (image.alpha is not None)
    with contextlib.ExitStack() as files:  # Closed (renamed into place) only on success.
        mark = output_files.OUTPUT_MARK
        writers = [files.enter_context(image_io.PngWriter(target, height, width, channels,
                                                          image.sixteen_bit, mark))
                   for target in samples]
        if settings.contact_sheet:
            std_writer = files.enter_context(image_io.PngWriter(std_path, height, width, 1, text=mark))
            sheet = outputs.ContactSheet(image.rgb, num_samples)
        for y, band in bands:
            lr_rows = (y // SCALE, (y + band.shape[1]) // SCALE)
            alpha = (outputs.upscale_alpha(image.alpha, lr_rows)[..., None]
                     if image.alpha is not None else None)
            for writer, sample in zip(writers, band):
                pixels = outputs.to_grey(sample) if image.grey else sample
                writer.write(pixels if alpha is None else np.concatenate([pixels, alpha], axis=-1))
            if settings.contact_sheet:
                std_writer.write(outputs.std_map(band)[..., None])
                sheet.add(band)
        if settings.contact_sheet:
            image_io.write_png(sheet_path, sheet.sheet, text=output_files.OUTPUT_MARK)
    return targets


def sample_images(settings):
    """srim_sample's work: writes every input's outputs; returns `(written, failed)` lists of
    input paths. An input the model refuses is logged and skipped; the others go on."""
    import tensorflow as tf

    from srim_tf.data import image_io

    for item in settings.input:  # Files named outright: checked before the model loads.
        if not os.path.isdir(item) and not image_io.is_pattern(item):
            try:
                image_io.check_regular_file(item)
            except ValueError as error:
                raise runner.CommandLineError(f"{error} Received: --input={item}") from None
    paths = image_io.expand_inputs(list(settings.input))
    # Outputs of an earlier run in a folder inside an input folder are not inputs (no
    # outputs of outputs). An output folder that is itself an input folder is left to the
    # never-overwrite check.
    output_root = os.path.realpath(settings.output_dir)
    input_folders = {os.path.realpath(item) for item in settings.input if os.path.isdir(item)}
    earlier = [] if output_root in input_folders else [
        p for p in paths if os.path.realpath(p).startswith(output_root + os.sep)]
    if earlier:
        logging.info("Not reading %d image(s) under --output_dir=%s as inputs.", len(earlier),
                     settings.output_dir)
        paths = [p for p in paths if p not in earlier]
    if not paths:
        raise runner.CommandLineError(f"No input images found in {list(settings.input)}")
    stems = output_names.output_stems(paths)
    sampler = load_sampler(settings.model, consistency_iterations=settings.consistency_iterations,
                           precision=settings.precision)
    logging.info("Model: %s", sampler.description)
    with FolderLock(settings.output_dir, "srim_sample", "--output_dir", "The output folder",
                    remove_when_done=True):
        for folder in {os.path.join(settings.output_dir, os.path.dirname(stem)) for stem in stems.values()}:
            safe_files.remove_abandoned(folder)  # what a killed run left
        inputs = {os.path.realpath(p) for p in paths}
        written, failed, files = [], [], 0
        for path in progress.bar(paths, unit="image"):
            try:
                files += len(process(settings, sampler, path, stems[path], inputs))
                written.append(path)
            except (ValueError, OSError, MemoryError, tf.errors.OpError) as error:
                # One image the model refuses (a SavedModel's bound, a bad tile) or that does
                # not fit in memory is skipped alone.
                failed.append(path)
                reason = ("not enough memory for its samples; use fewer --num_samples or a smaller"
                          " --tile_size" if isinstance(error, MemoryError) else errors.one_line(error))
                logging.error("Skipped %s: %s", path, reason)
    logging.info("Done: %d file%s written for %d input%s, %d input%s failed.", files, _plural(files),
                 len(written), _plural(len(written)), len(failed), _plural(len(failed)))
    return written, failed


def load_sampler(model, **options):
    """`inference.samplers.load_sampler`, imported when a model is loaded (it imports TensorFlow)."""
    from srim_tf.inference.samplers import load_sampler as load

    return load(model, **options)


def _plural(count):
    return "" if count == 1 else "s"


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    settings = SampleSettings(**settings_flags.flag_values_of(SampleSettings))
    runner.start_tensorflow()
    _, failed = sample_images(settings)
    if failed:
        sys.exit(1)


def run():
    settings_flags.define_flags(SampleSettings, __name__)
    runner.run(main)


if __name__ == "__main__":
    run()
