"""Image quality measures with the conventions of published SR tables.

PSNR and SSIM are computed on the luma Y of ITU-R BT.601 (MATLAB `rgb2ycbcr`), on the
[0, 255] scale, after cropping `border` pixels from every side; SSIM uses an 11x11 Gaussian
window with sigma 1.5, K1 = 0.01, K2 = 0.03 (`tf.image.ssim`). Grey images (one channel)
are measured on their own grey level, as the MATLAB scripts behind published tables do
(they convert only 3-channel images): that is what reproduces Set14's published bicubic
figure, whose bridge.png is grey. All functions take float images in [0, 1],
`[N, H, W, C]`, and return one value per image.
"""

import tensorflow as tf

from srim_tf.data.resize import bicubic_downsample

_Y_WEIGHTS = (65.481, 128.553, 24.966)


def rgb_to_y(images):
    """`[N, H, W, 3]` RGB in [0, 1] -> `[N, H, W, 1]` BT.601 luma in [16, 235].

    One-channel (grey) images are returned as their grey level on [0, 255].
    """
    images = tf.cast(images, tf.float32)
    if images.shape[-1] == 1:
        return images * 255.0
    return 16.0 + tf.reduce_sum(images * tf.constant(_Y_WEIGHTS), axis=-1, keepdims=True)


def _crop(images, border):
    # Height and width are the two axes before the channels, for [N, H, W, C] or [N, K, H, W, C].
    return images[..., border:-border, border:-border, :] if border > 0 else images


def psnr(images, references, max_value=1.0):
    """PSNR per image over all channels, for values in [0, max_value]."""
    mse = tf.reduce_mean(tf.square(tf.cast(images, tf.float32) - tf.cast(references, tf.float32)),
                         axis=[1, 2, 3])
    return 10.0 * tf.math.log(max_value ** 2 / tf.maximum(mse, 1e-20)) / tf.math.log(10.0)


def y_psnr(images, references, border=0):
    """PSNR of the Y channel (data range 255) after a border crop."""
    return psnr(_crop(rgb_to_y(images), border), _crop(rgb_to_y(references), border), 255.0)


def rgb_psnr(images, references, border=0):
    """PSNR over R, G and B after a border crop."""
    return psnr(_crop(images, border), _crop(references, border), 1.0)


def y_ssim(images, references, border=0):
    """SSIM of the Y channel (11x11 Gaussian window, sigma 1.5, data range 255)."""
    return tf.image.ssim(_crop(rgb_to_y(images), border), _crop(rgb_to_y(references), border),
                         max_val=255.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03)


def lr_psnr(outputs, lr_inputs, scale=4):
    """LR consistency as NTIRE 2021 "Learning the SR space" measures it: the output
    downsampled by MATLAB-style bicubic and rounded to 8 bits (`bicubic_downsample`), against
    the 8-bit LR input, PSNR over RGB, no border crop. At least 45 dB counts as consistent."""
    return rgb_psnr(bicubic_downsample(outputs, scale), lr_inputs)


def lpips_scores(lpips_network, samples, reference):
    """LPIPS of K samples of one image, and NTIRE's LPIPS diversity score.

    Args:
        lpips_network: an `lpips.LPIPS` (NTIRE: AlexNet).
        samples: `[K, H, W, 3]` in [0, 1] (grey images repeated to 3 channels).
        reference: `[H, W, 3]`, the ground truth.

    Returns:
        `(per_sample, diversity)`: LPIPS `[K]` of each sample (the mean of its spatial map,
        as NTIRE's `spatial=True` gives it), and (global best - local best) / global best
        x 100, global best being the lowest per-sample LPIPS and local best the mean of the
        per-pixel minimum over samples. Samples are measured one at a time, so memory does
        not grow with K.
    """
    reference = tf.cast(reference, tf.float32)[None]
    per_sample, local_min = [], None
    for index in range(samples.shape[0]):
        spatial = lpips_network.spatial(tf.cast(samples[index:index + 1], tf.float32), reference)[0]
        per_sample.append(float(tf.reduce_mean(spatial)))
        local_min = spatial if local_min is None else tf.minimum(local_min, spatial)
    global_best = min(per_sample)
    diversity = (global_best - float(tf.reduce_mean(local_min))) / max(global_best, 1e-12) * 100.0
    return per_sample, diversity


def diversity(samples, reference):
    """Diversity of K samples of each image.

    Args:
        samples: `[N, K, H, W, 3]` in [0, 1].
        reference: `[N, H, W, 3]`, the ground truth.

    Returns:
        `(std, score)`, each `[N]`: the mean over pixels of the per-pixel standard deviation
        across samples (in [0, 1] units), and the NTIRE "Learning the SR space" score
        (global best - local best) / global best * 100, where global best is the smallest
        per-image mean absolute error of one sample and local best the mean over pixels of
        the smallest per-pixel error of any sample.
    """
    samples = tf.cast(samples, tf.float32)
    std = tf.reduce_mean(tf.math.reduce_std(samples, axis=1), axis=[1, 2, 3])
    error = tf.reduce_mean(tf.abs(samples - tf.cast(reference, tf.float32)[:, None]), axis=-1)
    global_best = tf.reduce_min(tf.reduce_mean(error, axis=[2, 3]), axis=1)
    local_best = tf.reduce_mean(tf.reduce_min(error, axis=1), axis=[1, 2])
    score = (global_best - local_best) / tf.maximum(global_best, 1e-12) * 100.0
    return std, score


def _gradient_magnitude(images):
    """Sobel gradient magnitude of the luma: `[N, H, W]`."""
    edges = tf.image.sobel_edges(rgb_to_y(images))  # [N, H, W, 1, 2]
    return tf.norm(edges[..., 0, :], axis=-1)


def diversity_by_texture(samples, reference, fraction=0.25, border=0):
    """Per-pixel std across samples, separately where the truth is textured and where flat.

    Stochastic SR should vary where the input is ambiguous (texture, fine detail) and agree
    where it is not (flat regions). "Textured" pixels are the `fraction` of each image with
    the largest HR gradient magnitude, "flat" the `fraction` with the smallest.

    Args:
        samples: `[N, K, H, W, C]` in [0, 1].
        reference: `[N, H, W, C]`, the ground truth.
        fraction: share of pixels in each group.
        border: pixels cropped from every side first.

    Returns:
        `(textured_std, flat_std)`, each `[N]`, in [0, 1] units (x 255 for grey levels).
    """
    samples = _crop(tf.cast(samples, tf.float32), border)
    reference = _crop(tf.cast(reference, tf.float32), border)
    std = tf.reduce_mean(tf.math.reduce_std(samples, axis=1), axis=-1)  # [N, H, W]
    gradient = _gradient_magnitude(reference)
    count = tf.shape(std)[1] * tf.shape(std)[2]
    take = tf.maximum(1, tf.cast(tf.cast(count, tf.float32) * fraction, tf.int32))
    order = tf.argsort(tf.reshape(gradient, [tf.shape(std)[0], -1]), axis=1)  # flat first
    std_per_pixel = tf.reshape(std, [tf.shape(std)[0], -1])
    flat = tf.reduce_mean(tf.gather(std_per_pixel, order[:, :take], batch_dims=1), axis=1)
    textured = tf.reduce_mean(tf.gather(std_per_pixel, order[:, -take:], batch_dims=1), axis=1)
    return textured, flat


def high_frequency_ratio(images, references, border=0):
    """Sharpness: high-frequency power of the output's luma over the truth's, per image.

    High-frequency power is the mean squared response of a 3x3 Laplacian. 1 means as much
    fine detail as the truth; a blurry (regression-to-the-mean) output scores well below 1,
    bicubic lowest. Needs no network.
    """
    laplacian = tf.constant([[0, 1, 0], [1, -4, 1], [0, 1, 0]], tf.float32)[..., None, None]

    def power(x):
        response = tf.nn.conv2d(_crop(rgb_to_y(x), border), laplacian, 1, "VALID")
        return tf.reduce_mean(tf.square(response), axis=[1, 2, 3])

    return power(images) / tf.maximum(power(references), 1e-12)
