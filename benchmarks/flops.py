"""Convolution FLOPs of the models the benchmarks time (multiply and add count as two)."""


def conv_flops(channels_in, channels_out, kernel, pixels):
    return 2 * kernel * kernel * channels_in * channels_out * pixels


def generator_flops(settings, lr_size):
    """FLOPs of one 4x sample (both stages), counting convolutions only; `settings` has the
    generator's `channels`, `kernel_size`, `num_convs` and `noise_channels` (a dict, a
    `GeneratorSettings` or a `RunSettings`)."""
    settings = getattr(settings, "generator", settings)  # a RunSettings' generator group
    get = settings.get if isinstance(settings, dict) else (lambda key: getattr(settings, key))
    c, k, n, z = get("channels"), get("kernel_size"), get("num_convs"), get("noise_channels")
    total = 0
    for out_size in (2 * lr_size, 4 * lr_size):
        pixels = out_size * out_size
        total += conv_flops(3 + z, c, k, pixels)
        total += (n - 2) * conv_flops(c + 3, c, k, pixels)
        total += conv_flops(c + 3, 3, k, pixels)
    return total


def vgg_flops(size, net="vgg19"):
    """FLOPs of VGG19 up to conv4_4 (VGG16: conv4_3) on a size x size image."""
    total, channels_in = 0, 3
    blocks = {"vgg19": ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512)),
              "vgg16": ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512))}[net]
    for block, convs, channels in blocks:
        side = size // (2 ** (block - 1))
        for _ in range(convs):
            total += conv_flops(channels_in, channels, 3, side * side)
            channels_in = channels
    return total
