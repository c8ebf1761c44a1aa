"""Checks of option values shared by every module, with errors that name what is accepted."""

# Largest noise scale accepted: the models are trained at 1; far beyond it gives saturated,
# meaningless images, and inf or NaN gives black ones.
MAX_NOISE_SCALE = 10.0


def check_choice(name, value, accepted):
    """Returns `value` if it is one of `accepted`, else raises a `ValueError`."""
    if value not in accepted:
        raise ValueError(
            f"Unknown {name}. Expected one of {sorted(accepted)}. Received: {name}={value!r}")
    return value


def check_positive_int(name, value):
    """Returns `value` if it is an integer >= 1, else raises a `ValueError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1. Received: {name}={value!r}")
    return value


def check_images(name, images, channels=3, dtypes=("float32", "float16", "bfloat16")):
    """Checks a `[N, H, W, C]` image batch's rank, channels and dtype."""
    shape = tuple(images.shape)
    if len(shape) != 4:
        raise ValueError(
            f"`{name}` must be a batch of images of shape [batch, height, width, {channels}]"
            f" (rank 4). Received: shape={shape}")
    if shape[-1] != channels:
        raise ValueError(
            f"`{name}` must have {channels} channels (RGB). Received: shape={shape}")
    dtype = str(getattr(images.dtype, "name", images.dtype))
    if dtype not in dtypes:
        raise ValueError(
            f"`{name}` must have a dtype in {list(dtypes)} with values in [0, 1]."
            f" Received: dtype={dtype}")
