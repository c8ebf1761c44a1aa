"""The fixed-seed computations whose results tests/golden/*.npz record."""

import numpy as np

# Training runs through srim_train's own loop, each covering a path a refactor could change.
TRAINING_CASES = {
    # Code reuse (a pool refilled twice), per-patch choice, the authors' fixed jitter.
    "pool_patch": dict(train_steps=4, code_pool_size=4, code_reuse_steps=2, selection_patch=2,
                       stage_output="residual"),
    # Random-VGG conv4_4 selection in bfloat16, the step in mixed_bfloat16, fresh selection.
    "vgg_bf16": dict(train_steps=3, selection_pixel_weight=0.0, selection_conv4_4_weight=1.0,
                     loss_conv2_2_weight=1.0, selection_precision="bfloat16",
                     mixed_precision="mixed_bfloat16"),
}


def _photo():
    import skimage.data

    return skimage.data.chelsea()[100:124, 200:220]  # uint8 [24, 20, 3]


def samples():
    """A shipped model's samples of a photo crop: float32 and bfloat16, tiled and whole.

    The golden file was made with the model now named `pretrained_psnr` (the default before
    the perceptual model shipped), whose weights are unchanged, so it still guards the
    sampling code."""
    from srim_tf.inference.samplers import load_sampler
    from srim_tf.inference.tiling import super_resolve_image

    out = {}
    for precision in ("float32", "bfloat16"):
        sampler = load_sampler("pretrained_psnr", precision=precision)
        out[precision] = super_resolve_image(sampler, _photo(), num_samples=2, seed=7,
                                             noise_scale=1.0, tile_size=12)
    out["zero_noise"] = super_resolve_image(load_sampler("pretrained_psnr"), _photo(), 1, seed=7,
                                            noise_scale=0.0, tile_size=0)
    return out


def trained_weights(name, workdir):
    """The generator's weights after `TRAINING_CASES[name]` through srim_train's loop."""
    from srim_tf.model.loading import load_generator
    from srim_tf.training.loop import train_and_evaluate
    from tests.helpers import tiny_config

    train_and_evaluate(tiny_config(**TRAINING_CASES[name]), workdir)
    generator = load_generator(workdir).generator
    return {f"w{i:02d}": np.asarray(w) for i, w in enumerate(generator.get_weights())}


def cpu_kind():
    """The CPU's widest vector instructions, which oneDNN's kernels (and so the last bits of a
    float32 or bfloat16 result) depend on: "avx512_bf16", "avx512", "avx2" or "other"."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = set(f.read().split())
    except OSError:
        return "other"
    for kind, flag in (("avx512_bf16", "avx512_bf16"), ("avx512", "avx512f"), ("avx2", "avx2")):
        if flag in flags:
            return kind
    return "other"
