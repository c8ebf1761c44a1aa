"""`RunSettings`: the settings of one training run, frozen, one field per `srim_train` flag.

The flags (`srim_tf/cli/flags.py`) hold every default and help text; this class holds the
values of one run, typed and read by attribute, so a misspelt name fails where it is
written instead of reading a default. `from_dict` refuses unknown and missing names, and
`check` refuses values that only make sense together; both run before anything is built.
"""

import dataclasses
from typing import Optional, Tuple

from srim_tf.data import datasets


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What `train_and_evaluate` trains; see `bin/srim_train --help` for each field."""

    # Data.
    data: str
    hr_size: int
    hr_mode: str
    patches_per_image: int
    batch_size: int
    augment: bool
    degradations: Tuple[str, ...]
    cache_data: bool
    tfds_data_dir: Optional[str]
    tfds_classes: Tuple[str, ...]
    tfds_per_class: int
    # The generator.
    channels: int
    kernel_size: int
    num_convs: int
    noise_channels: int
    normalization: str
    activation: str
    stage_output: str
    # Feature space and distances.
    feature_net: str
    vgg_weights: str
    lpips_net: str
    loss_pixel_weight: float
    loss_conv2_2_weight: float
    loss_conv4_4_weight: float
    loss_distance: str
    selection_pixel_weight: float
    selection_conv2_2_weight: float
    selection_conv4_4_weight: float
    selection_lpips_weight: float
    selection_distance: str
    projection: str
    projection_dim: int
    projection_seed: int
    # Conditional IMLE.
    num_lower_samples: int
    num_upper_samples: int
    sample_chunk: int
    selection: str
    selection_patch: int
    selection_precision: str
    mid_loss_weight: float
    zero_code_loss_weight: float
    code_jitter: float
    code_jitter_mode: str
    code_pool_size: int
    code_reuse_steps: int
    target_feature_cache_mb: int
    # Optimisation and the run.
    workdir: Optional[str]
    train_steps: int
    learning_rate: float
    lr_decay_steps: Tuple[str, ...]
    lr_decay_factor: float
    init_from: str
    seed: int
    checkpoint_every: int
    keep_checkpoints: int
    summary_every: int
    image_summary_every: int
    num_validation_images: int
    validation_data: str
    num_summary_samples: int
    restart: bool
    strategy: str
    mixed_precision: str
    jit_compile: bool

    def __post_init__(self):
        # Lists (what absl gives) become tuples, so a frozen run cannot change under us.
        for field in ("degradations", "tfds_classes", "lr_decay_steps"):
            object.__setattr__(self, field, tuple(getattr(self, field)))

    @classmethod
    def from_dict(cls, values):
        """Settings from flag values; a `ValueError` names unknown or missing names."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown, missing = sorted(set(values) - names), sorted(names - set(values))
        if unknown or missing:
            raise ValueError(f"Run settings must name every field of RunSettings once. Unknown:"
                             f" {unknown}; missing: {missing}.")
        return cls(**values)

    def as_dict(self):
        """The settings as JSON-ready flag values (what `config.json` records)."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}

    def replace(self, **changes):
        """A copy with `changes`; an unknown name is a `TypeError`."""
        return dataclasses.replace(self, **changes)

    def check(self):
        """Raises a `ValueError` naming the flags whose values do not work together."""
        for key in ("train_steps", "checkpoint_every", "summary_every", "image_summary_every",
                    "num_validation_images", "num_summary_samples", "keep_checkpoints"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"--{key} must be an integer >= 1. Received: --{key}={value}")
        patch, lr_size = self.selection_patch, self.hr_size // 4
        if patch and lr_size % patch:
            accepted = [p for p in range(1, lr_size + 1) if lr_size % p == 0]
            raise ValueError("--selection_patch must divide the LR patch size (--hr_size / 4);"
                             f" accepted: 0 or one of {accepted}. Received:"
                             f" --selection_patch={patch} --hr_size={self.hr_size}")
        if self.selection_lpips_weight and self.selection_distance != "l2":
            raise ValueError("LPIPS is a squared distance: use --selection_distance=l2 with"
                             " --selection_lpips_weight. Received: --selection_distance="
                             f"{self.selection_distance}")
        # LPIPS runs on the 2x target too (hr_size / 2); AlexNet's pools need 31 pixels.
        smallest = {"alex": 64, "vgg": 32}[self.lpips_net]
        if self.selection_lpips_weight and self.hr_size < smallest:
            raise ValueError(f"LPIPS-{self.lpips_net} selection needs --hr_size >= {smallest} (the 2x"
                             f" stage is chosen on hr_size / 2 pixels). Received: --hr_size={self.hr_size}")
        if self.selection_lpips_weight and self.projection != "none":
            raise ValueError("LPIPS selection uses exact distances: use --projection=none with"
                             f" --selection_lpips_weight. Received: --projection={self.projection}")
        try:
            [int(s) for s in self.lr_decay_steps]
        except ValueError as error:
            raise ValueError("--lr_decay_steps must be integers. Received:"
                             f" --lr_decay_steps={','.join(self.lr_decay_steps)}") from error
        if self.code_pool_size and self.code_pool_size < self.batch_size:
            raise ValueError("--code_pool_size must be 0 (off) or at least --batch_size. Received:"
                             f" --code_pool_size={self.code_pool_size} --batch_size={self.batch_size}")
        if self.jit_compile and self.projection == "sparse":
            raise ValueError("XLA cannot compile sparse matmuls: use --projection=none or gaussian"
                             " with --jit_compile. Received: --projection=sparse --jit_compile")
        for kind in self.degradations:
            if kind not in datasets.DEGRADATIONS:
                raise ValueError(f"Unknown degradation. Expected some of {list(datasets.DEGRADATIONS)}."
                                 f" Received: --degradations={kind}")
