"""Settings the programs that run a trained model share, declared once.

`InferenceSettings` (the model, --consistency, --precision): srim_sample, srim_eval and
srim_export. `SamplingSettings` adds what drawing samples takes (K, seed, tiles): srim_sample
and srim_eval. Each program's settings extend one, and its flags are generated from them
(`settings_flags.py`).
"""

import dataclasses
from typing import Optional

from srim_tf.checks import MAX_NOISE_SCALE
from srim_tf.settings import INFERENCE_PRECISIONS, SAMPLING_TILE_SIZE, SHIPPED_NAMES, Declared, setting


@dataclasses.dataclass(frozen=True)
class InferenceSettings(Declared):
    model: str = setting(
        "pretrained", f"The model: {SHIPPED_NAMES} (shipped), a pretrained folder"
        " (srim_export --pretrained_dir), a srim_train workdir, a checkpoint, or a SavedModel"
        " (srim_export --export_dir).", required=True)
    consistency: bool = setting(
        False, "Back-project every output onto its input so that, downsampled as the input was"
        " made (MATLAB bicubic), it gives the input back (LR-PSNR > 45 dB; see README).")
    precision: Optional[str] = setting(
        None, "What the generator computes in: float32 (when not given; a SavedModel: as"
        " exported), bfloat16 (faster on CPUs with AVX-512 BF16 or AMX and on GPUs, at a small"
        " PSNR cost; README, Sampling) or float16 (GPUs only). Inputs and outputs keep their"
        " dtypes.", choices=INFERENCE_PRECISIONS)

    @property
    def consistency_iterations(self):
        """Back-projection passes `consistency` asks for (0: off)."""
        from srim_tf.inference import consistency  # imports TensorFlow: not before a run

        return consistency.DEFAULT_ITERATIONS if self.consistency else 0


# Most samples per image: ten times the paper's 100 codes per stage. More would take a
# band of rows per sample; memory is bounded per image too (`tiling.MAX_SAMPLING_BYTES`).
MAX_SAMPLES = 1000


@dataclasses.dataclass(frozen=True)
class SamplingSettings(InferenceSettings):
    num_samples: int = setting(1, "Samples per image (K).", minimum=1, maximum=MAX_SAMPLES)
    seed: int = setting(0, "Noise seed: the same seed gives the same samples.")
    tile_size: int = setting(SAMPLING_TILE_SIZE, "Tile size in LR pixels (0: whole image"
                             " at once).", minimum=0)


def noise_scale_setting(default):
    """The noise scale: 0 deterministic (z = 0), 1 the training distribution."""
    return setting(default, "Noise scale: 0 gives the deterministic output at z = 0, 1 the"
                   " training distribution.", minimum=0.0, maximum=MAX_NOISE_SCALE, finite=True)
