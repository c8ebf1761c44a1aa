"""Evaluation with the conventions of published SR tables (../shared/data/README.md).

HR cropped (top-left) to a multiple of 4; LR by MATLAB-convention bicubic rounded to 8
bits; outputs rounded to 8 bits; PSNR/SSIM on luma (grey images on their grey level) with
4 border pixels cropped. LPIPS (AlexNet v0.1, whole RGB images, grey ones repeated to
three channels), its diversity score and LR-PSNR as NTIRE 2021 "Learning the SR space"
measures them. Methods: "bicubic", a sampler (see `inference/samplers.py`), or
"folder:PATH" of ready-made SR images named like the HR images.

With an LR degradation (`LR_DEGRADATION_LEVELS`: a photograph as it comes), methods see the
degraded LR; LR-PSNR still compares with the clean LR, as the content to keep.
"""

import os
import pathlib

import numpy as np
import tensorflow as tf
from absl import logging

from srim_tf import errors, progress
from srim_tf.data.degradations import degrade_for_evaluation
from srim_tf.data.image_io import expand_inputs, read_image
from srim_tf.data.resize import bicubic_downsample, bicubic_upsample
from srim_tf.evaluation import metrics
from srim_tf.inference import output_files
from srim_tf.inference.outputs import to_grey
from srim_tf.inference.samplers import Sampler
from srim_tf.inference.tiling import SAMPLING_TILE_SIZE, super_resolve_image
from srim_tf.model.generator import SCALE
from srim_tf.settings import described_lr_degradation

BORDER = SCALE
SSIM_WINDOW = 11
# The smallest multiple of the scale that leaves an SSIM window after the border crop: 20.
MIN_SIZE = -(-(2 * BORDER + SSIM_WINDOW) // SCALE) * SCALE
KEYS = ("y_psnr", "y_ssim", "rgb_psnr", "lr_psnr", "zero_noise_y_psnr", "best_of_k_y_psnr",
        "worst_of_k_y_psnr", "diversity_std", "diversity_std_textured", "diversity_std_flat",
        "diversity_score", "hf_ratio", "zero_noise_hf_ratio", "lpips", "zero_noise_lpips",
        "lpips_diversity", "bicubic_y_psnr")
# Stds, in [0, 1] units in the results (--json, --csv); the printed tables show grey levels.
STD_KEYS = ("diversity_std", "diversity_std_textured", "diversity_std_flat")
GREY_LEVELS = 255
# Widest line of the short table (set names up to 10 characters).
SHORT_TABLE_COLUMNS = 100


def _float(images):
    return tf.constant(np.asarray(images, np.float32) / 255.0)


def _load_hr(path):
    image = read_image(path)
    height, width = (s // SCALE * SCALE for s in image.rgb.shape[:2])
    if min(height, width) < MIN_SIZE:
        raise ValueError(f"Image too small to evaluate: {path} is {image.rgb.shape[1]}x"
                         f"{image.rgb.shape[0]}; at least {MIN_SIZE}x{MIN_SIZE} is needed"
                         f" (the {BORDER}-pixel border crop, then SSIM's {SSIM_WINDOW}x{SSIM_WINDOW}"
                         f" window, in a multiple of the scale {SCALE}).")
    hr = image.rgb[:height, :width]
    return (hr[..., :1] if image.grey else hr), image.grey


def hr_and_lr(path):
    """`(hr, lr, grey)` of an HR image as evaluation measures it: HR uint8 cropped to a
    multiple of the scale (one channel when grey), LR its MATLAB-bicubic downsample rounded
    to 8 bits. Other tools' outputs (`benchmarks/realesrgan.py`) start from this LR."""
    hr, grey = _load_hr(path)
    lr = np.round(bicubic_downsample(_float(hr[None]), SCALE).numpy()[0] * 255).astype(np.uint8)
    return hr, lr, grey


def model_lr(lr, lr_degradation, relative_path):
    """The LR a method is given: `lr` of `hr_and_lr`, degraded at `lr_degradation` with the
    noise of the image at `relative_path` in its set (the same key on every system)."""
    return degrade_for_evaluation(lr, lr_degradation, pathlib.PurePath(relative_path).as_posix())


def _rgb(images):
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def _measure(outputs, hr, lr, lpips_network=None):
    """Metrics of uint8 outputs `[K, H, W, C]` against uint8 hr `[H, W, C]`, lr `[h, w, C]`."""
    out, ref = _float(outputs), _float(np.repeat(hr[None], len(outputs), axis=0))
    lr_ref = _float(np.repeat(lr[None], len(outputs), 0))
    y_psnr = metrics.y_psnr(out, ref, BORDER).numpy()
    values = {
        "y_psnr": float(y_psnr.mean()),
        "y_ssim": float(metrics.y_ssim(out, ref, BORDER).numpy().mean()),
        "rgb_psnr": float(metrics.rgb_psnr(out, ref, BORDER).numpy().mean()),
        "lr_psnr": float(metrics.lr_psnr(out, lr_ref).numpy().mean()),
        "hf_ratio": float(metrics.high_frequency_ratio(out, ref, BORDER).numpy().mean()),
    }
    # LPIPS' backbone needs a minimum size (AlexNet: 31 pixels); smaller images go without.
    if lpips_network is not None and min(hr.shape[:2]) >= lpips_network.min_size:
        per_sample, lpips_diversity = metrics.lpips_scores(
            lpips_network, _float(_rgb(outputs)), _float(_rgb(hr)))
        values["lpips"] = float(np.mean(per_sample))
        if len(outputs) > 1:
            values["lpips_diversity"] = lpips_diversity
    if len(outputs) > 1:
        std, score = metrics.diversity(out[None], _float(hr[None]))
        textured, flat = metrics.diversity_by_texture(out[None], _float(hr[None]), border=BORDER)
        values.update(best_of_k_y_psnr=float(y_psnr.max()),
                      worst_of_k_y_psnr=float(y_psnr.min()), diversity_std=float(std[0]),
                      diversity_std_textured=float(textured[0]), diversity_std_flat=float(flat[0]),
                      diversity_score=float(score[0]))
    return values


def evaluate_image(method: "str | Sampler", path, num_samples=10, seed=0, tile_size=SAMPLING_TILE_SIZE,
                   lpips_network=None, relative_path=None, lr_degradation="none"):
    """Metrics of one HR image for `method` ("bicubic", "folder:PATH" or a sampler); LPIPS
    ones when `lpips_network` (an `lpips.LPIPS`) is given. "folder:PATH" reads the SR image
    at `relative_path` (the HR image's path inside its --hr_dir; default: its name) in PATH.
    `lr_degradation`: a level of `LR_DEGRADATION_LEVELS` applied to the LR the method sees."""
    if output_files.is_sample_output(path):
        raise ValueError("a srim_sample output, not ground truth (named <name>_x4_s<k>.png,"
                         " _sheet or _std, or marked by srim_sample); move it out of the --hr_dir")
    hr, lr, grey = hr_and_lr(path)
    seen = model_lr(lr, lr_degradation, relative_path or os.path.basename(path))
    bicubic = np.round(bicubic_upsample(_float(seen[None]), SCALE).numpy() * 255).astype(np.uint8)
    if method == "bicubic":
        return _measure(bicubic, hr, lr, lpips_network)
    # The baseline beside every other method's figures (the method "bicubic" is its own).
    baseline = {"bicubic_y_psnr": float(metrics.y_psnr(_float(bicubic), _float(hr[None]), BORDER)[0])}
    if isinstance(method, str) and method.startswith("folder:"):
        candidates = [os.path.join(method[len("folder:"):], relative_path or os.path.basename(path))]
        sr, _ = _load_hr(candidates[0]) if os.path.isfile(candidates[0]) else (None, None)
        if sr is None:
            raise ValueError(f"No SR image for {path}: expected {candidates[0]}")
        if sr.shape != hr.shape:
            raise ValueError(f"Size mismatch: {candidates[0]} is {sr.shape[1]}x{sr.shape[0]}x"
                             f"{sr.shape[2]} but {path} (cropped to a multiple of {SCALE}) is"
                             f" {hr.shape[1]}x{hr.shape[0]}x{hr.shape[2]}")
        return {**_measure(sr[None], hr, lr, lpips_network), **baseline}
    rgb_lr = np.repeat(seen, 3, axis=-1) if grey else seen
    samples = super_resolve_image(method, rgb_lr, num_samples, seed, 1.0, tile_size)
    zero = super_resolve_image(method, rgb_lr, 1, seed, 0.0, tile_size)
    if grey:
        samples, zero = to_grey(samples), to_grey(zero)
    values = _measure(samples, hr, lr, lpips_network)
    zero_values = _measure(zero, hr, lr, lpips_network)
    values["zero_noise_y_psnr"] = zero_values["y_psnr"]
    values["zero_noise_hf_ratio"] = zero_values["hf_ratio"]
    if "lpips" in zero_values:
        values["zero_noise_lpips"] = zero_values["lpips"]
    return {**values, **baseline}


def evaluate(method: "str | Sampler", hr_dirs, num_samples=10, seed=0, tile_size=SAMPLING_TILE_SIZE,
             show_progress=True, lpips_network=None, on_image=None, lr_degradation="none"):
    """Evaluates every image of every HR folder (LPIPS too when `lpips_network` is given),
    the methods given LR degraded at `lr_degradation` (`evaluate_image`).

    An image that cannot be read or measured (a broken file, too small, no matching SR
    image) is skipped, named with its reason, and the run goes on; means are over the
    images measured. `on_image`, if given, is called after every image with a function
    that returns the results so far (what this returns, over the images done), so a
    caller can write them out before a later image crashes the process.

    Returns:
        `{set_name: {key: mean, ..., "per_image": [{"image": name, key: value, ...}],
        "skipped": [{"image": name, "error": reason}]}}`, set_name being the folder's name
        (its path when two --hr_dir share a name); image names are paths inside the folder.

    Raises:
        ValueError: for a missing or empty folder (before any work), or if no image at all
            could be measured.
    """
    sets = {}
    for hr_dir in hr_dirs:
        if not os.path.isdir(hr_dir):
            raise ValueError(f"HR folder not found. Received: --hr_dir={hr_dir}")
        sets[hr_dir] = expand_inputs([hr_dir])
        if not sets[hr_dir]:
            raise ValueError(f"No images in HR folder {hr_dir}")
    measured = {}  # {set name: (per_image, skipped)}, filled as images finish
    names = [os.path.basename(os.path.normpath(hr_dir)) for hr_dir in sets]
    for hr_dir, paths in sets.items():
        # Sets are named by their folder; two folders of one name by their paths, kept apart.
        name = os.path.basename(os.path.normpath(hr_dir))
        if names.count(name) > 1:
            name = os.path.normpath(hr_dir)
        per_image, skipped = measured[name] = [], []
        for path in progress.bar(paths, desc=name, disable=not show_progress, unit="image"):
            try:
                values = evaluate_image(method, path, num_samples, seed, tile_size, lpips_network,
                                        os.path.relpath(path, hr_dir), lr_degradation)
            except (MemoryError, ValueError, tf.errors.OpError) as error:
                if isinstance(error, MemoryError) and isinstance(method, str):
                    reason = "not enough memory to measure this image"  # one output
                elif isinstance(error, MemoryError):
                    # K samples of a large image in float32 may not fit: this one is named
                    # and skipped, the others measured and written.
                    reason = (f"not enough memory to measure {num_samples} samples of this image;"
                              " use fewer --num_samples or a smaller image")
                else:
                    reason = errors.one_line(error)
                logging.warning("Skipped %s: %s", path, reason)
                skipped.append({"image": os.path.relpath(path, hr_dir), "error": reason})
            else:
                per_image.append({"image": os.path.relpath(path, hr_dir), **values})
            if on_image is not None:
                on_image(lambda: _results(measured, lr_degradation))
    results = _results(measured, lr_degradation)
    if not any(result["per_image"] for result in results.values()):
        raise ValueError("No image could be measured: " + "; ".join(
            f"{record['image']}: {record['error']}" for result in results.values()
            for record in result["skipped"]))
    return results


def _results(measured, lr_degradation):
    """`evaluate`'s results of `{set name: (per_image, skipped)}`: each set's means over the
    images that have each value (LPIPS skips images below its minimum size), and the LR
    degradation the methods saw."""
    results = {}
    for name, (per_image, skipped) in measured.items():
        means = {key: float(np.mean([p[key] for p in per_image if key in p])) for key in KEYS
                 if any(key in p for p in per_image)}
        results[name] = {**means, "lr_degradation": lr_degradation, "per_image": list(per_image),
                         "skipped": list(skipped)}
    return results


def table(results, num_samples=None, wide=False):
    """The printed table of the per-set means, then the skipped images.

    Short (the default): the key metrics, one column each, in at most `SHORT_TABLE_COLUMNS`
    characters; `wide`: every key of `KEYS` the results hold, named as in --json and --csv.
    Both show stds in grey levels (0-255), as the README quotes them, and say so above.
    `num_samples` (K) names the mean of samples' column.
    """
    lines = _wide_table(results) if wide else _short_table(results, num_samples)
    degraded = {result.get("lr_degradation", "none") for result in results.values()} - {"none"}
    for level in sorted(degraded):
        lines.insert(0, f"The models saw the LR degraded at --lr_degradation={level}"
                        f" ({described_lr_degradation(level)}); LR-PSNR against the clean LR.")
    for name, result in results.items():
        for record in result.get("skipped", []):
            lines.append(f"{name}: skipped {record['image']}: {record['error']}")
    return "\n".join(lines)


def _printed(key, value):
    return value * GREY_LEVELS if key in STD_KEYS else value


def _short_table(results, num_samples):
    def has(key):
        return any(key in result for result in results.values())

    def value(key, spec):
        return lambda r: format(_printed(key, r[key]), spec) if key in r else "-"

    stochastic = has("zero_noise_y_psnr")
    samples = f"mean of {num_samples}" if num_samples else "mean"
    columns = [("images", lambda r: str(len(r["per_image"])))]  # (header, text of a result)
    if stochastic:
        columns += [("Y-PSNR z=0", value("zero_noise_y_psnr", ".2f")), (samples, value("y_psnr", ".2f"))]
    else:
        columns.append(("Y-PSNR", value("y_psnr", ".2f")))
    columns += [(header, value(key, spec)) for header, key, spec in (
        ("bicubic", "bicubic_y_psnr", ".2f"), ("SSIM", "y_ssim", ".4f"), ("LPIPS", "lpips", ".3f"),
        ("LPIPS div", "lpips_diversity", ".1f"), ("LR-PSNR", "lr_psnr", ".1f")) if has(key)]
    if has("diversity_std_textured"):
        columns.append(("std tex/flat", lambda r: (
            f"{_printed('diversity_std_textured', r['diversity_std_textured']):.1f} /"
            f" {_printed('diversity_std_flat', r['diversity_std_flat']):.1f}")
            if "diversity_std_textured" in r else "-"))
    caption = ["Means per set" + (f", K = {num_samples} samples per image" if stochastic and num_samples else "")
               + ". Y-PSNR (luma) and LR-PSNR in dB. All metrics: --table=wide."]
    if has("diversity_std_textured"):
        caption.append("std tex/flat: the samples' per-pixel std where the truth is textured / flat,"
                       " in grey levels (0-255).")
    rows = [["set", *(header for header, _ in columns)]]
    rows += [[name, *(text(result) for _, text in columns)] for name, result in results.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return caption + ["  ".join([row[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(row[1:], widths[1:])])
                      for row in rows]


def _wide_table(results):
    keys = [k for k in KEYS if any(k in r for r in results.values())]
    widths = [max(12, len(k) + 2) for k in keys]
    first = max([10, *(len(name) for name in results)])
    stds = "; stds (diversity_std*) in grey levels (0-255), there in [0, 1]" if set(STD_KEYS) & set(keys) else ""
    lines = [f"Means per set, named as in --json and --csv{stds}.",
             "set".ljust(first) + "".join(k.rjust(w) for k, w in zip(keys, widths))]
    for name, result in results.items():
        lines.append(name.ljust(first) + "".join(
            (f"{_printed(k, result[k]):.4f}" if k in result else "-").rjust(w) for k, w in zip(keys, widths)))
    return lines


def csv_rows(results):
    """Rows for a CSV file: one per image, then one mean row per set."""
    keys = [k for k in KEYS if any(k in r for r in results.values())]
    rows = [["set", "image", *keys, "lr_degradation"]]
    for name, result in results.items():
        level = result.get("lr_degradation", "none")
        for record in result["per_image"]:
            rows.append([name, record["image"], *(record.get(k, "") for k in keys), level])
        rows.append([name, "MEAN", *(result.get(k, "") for k in keys), level])
    return rows
