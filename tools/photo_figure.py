#!/usr/bin/env python3
"""A figure of a real JPEG photograph as it comes (no truth exists): a crop of it 4x upscaled
by bicubic, by Real-ESRGAN x4plus when its extra is installed, and by each srim_tf model: its
z = 0 output, two samples and the std map of four. Prints each model's std across samples
where the crop is flat and where it is textured (by bicubic's gradient: there is no truth)
and its z = 0 output's mean brightness against bicubic's.

    python tools/photo_figure.py [--models=pretrained,pretrained_photos] [--image=PATH.jpg]

Default image: scikit-learn's china.jpg (a 640x427 camera photograph saved as a JPEG),
installed with scikit-learn and never a training image. Writes tools/figures/photo_crop.png.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from srim_tf.cli import quiet  # noqa: E402

quiet.quiet_tensorflow_startup()

from srim_tf.data import image_io  # noqa: E402
from srim_tf.data.resize import bicubic_upsample  # noqa: E402
from srim_tf.evaluation.metrics import diversity_by_texture  # noqa: E402
from srim_tf.inference import outputs, tiling  # noqa: E402
from srim_tf.inference.samplers import load_sampler  # noqa: E402
from tools.panels import labelled, row, stacked  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_image():
    import sklearn

    return os.path.join(os.path.dirname(sklearn.__file__), "datasets", "images", "china.jpg")


def realesrgan_panel(lr):
    """Real-ESRGAN x4plus's output, or None when its optional extra is not installed."""
    try:
        from benchmarks.realesrgan import upscale, upscaler

        return upscale(upscaler(), lr, grey=False)
    except SystemExit as missing:
        print(f"No Real-ESRGAN panel: {missing}")
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="pretrained,pretrained_photos")
    parser.add_argument("--image", default=default_image())
    parser.add_argument("--crop", default="150,80,96", help="top,left,size of the crop of the input")
    parser.add_argument("--out", default=os.path.join(ROOT, "tools", "figures", "photo_crop.png"))
    args = parser.parse_args()
    quiet.quiet_python_logs(0)
    top, left, size = (int(v) for v in args.crop.split(","))
    lr = image_io.read_image(args.image).rgb[top:top + size, left:left + size]
    nearest = np.repeat(np.repeat(lr, 4, axis=0), 4, axis=1)
    bicubic = np.round(np.clip(bicubic_upsample(lr[None] / 255.0, 4).numpy()[0], 0, 1) * 255).astype(np.uint8)
    inputs = [labelled(nearest, f"input: {os.path.basename(args.image)} crop, nearest 4x"),
              labelled(bicubic, "bicubic 4x")]
    samplers = {model: load_sampler(model) for model in args.models.split(",")}  # fails early
    realesrgan = realesrgan_panel(lr)
    if realesrgan is not None:
        inputs.append(labelled(realesrgan, "Real-ESRGAN x4plus"))
    rows = [row(inputs)]
    print("model: std across 4 samples, textured / flat quarter of the crop (grey levels);"
          " z = 0 mean minus bicubic's (grey levels)")
    for model, sampler in samplers.items():
        zero = tiling.super_resolve_image(sampler, lr, 1, seed=0, noise_scale=0.0)[0]
        samples = tiling.super_resolve_image(sampler, lr, 4, seed=0, noise_scale=1.0)
        textured, flat = (255 * float(v[0]) for v in diversity_by_texture(samples[None] / 255.0, bicubic[None] / 255.0))
        brightness = float(zero.mean()) - float(bicubic.mean())
        print(f"{model}: std {textured:.1f} / {flat:.1f}; z = 0 {brightness:+.1f}")
        std = np.repeat(outputs.std_map(samples)[..., None], 3, axis=-1)
        rows.append(row([labelled(zero, f"{model}: z = 0"), labelled(samples[0], "sample 1"),
                         labelled(samples[1], "sample 2"),
                         labelled(std, f"std of 4 (white = {outputs.STD_WHITE}); textured / flat"
                                            f" {textured:.1f} / {flat:.1f}")]))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    image_io.write_png(args.out, stacked(rows))
    print(args.out)


if __name__ == "__main__":
    main()
