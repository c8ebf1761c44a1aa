"""Line charts of a study's metrics against training steps, drawn with Pillow (no plotting
library is a dependency): one panel per metric, one colour per arm, each seed a thin line
and the arms' mean a thick one, goals dashed."""

from PIL import Image, ImageDraw

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#17becf", "#bcbd22", "#000000", "#aec7e8"]
PANEL = (520, 360)  # width, height of one panel
MARGIN = (60, 30, 20, 45)  # left, top, right, bottom


def _scale(value, low, high, start, length):
    """`value`'s place between `low` and `high`, mapped onto `start` .. `start + length`
    (`low` above `high` maps downwards, as a vertical axis drawn from the top does)."""
    return start + (value - low) / ((high - low) or 1) * length


def _dashed(draw, start, end, colour, dash=6):
    (x0, y), (x1, _) = start, end
    for x in range(int(x0), int(x1), 2 * dash):
        draw.line([(x, y), (min(x + dash, x1), y)], fill=colour, width=1)


def plot(means, metrics, path, runs=None, goals=None, y_range=(0.0, 1.0)):
    """Writes a PNG of `metrics` against steps.

    Args:
        means: `{arm: {"step": [...], metric: [...]}}`, the line drawn thick.
        metrics: the metric names, one panel each.
        path: the PNG to write.
        runs: `{arm: [curve, ...]}`, each curve `[{"step": s, metric: v}, ...]`: thin lines.
        goals: `{metric: value}`, drawn dashed.
        y_range: the vertical axis of every panel.
    """
    legend_height = 18 * ((len(means) + 1) // 2) + 10
    width, height = PANEL[0] * len(metrics), PANEL[1] + legend_height
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    last_step = max(max(m["step"]) for m in means.values())
    left, top, right, bottom = MARGIN
    plot_w, plot_h = PANEL[0] - left - right, PANEL[1] - top - bottom
    low, high = y_range
    for panel, metric in enumerate(metrics):
        x0, y0 = panel * PANEL[0] + left, top

        def point(step, value, x0=x0, y0=y0):
            return (_scale(step, 0, last_step, x0, plot_w),
                    _scale(value, high, low, y0, plot_h))

        draw.rectangle([x0, y0, x0 + plot_w, y0 + plot_h], outline="black")
        for tick in range(6):
            value = low + (high - low) * tick / 5
            _, y = point(0, value)
            draw.line([(x0 - 4, y), (x0, y)], fill="black")
            draw.text((x0 - 34, y - 6), f"{value:.1f}", fill="black")
            step = last_step * tick / 5
            x, _ = point(step, low)
            draw.line([(x, y0 + plot_h), (x, y0 + plot_h + 4)], fill="black")
            draw.text((x - 12, y0 + plot_h + 8), f"{step:.0f}", fill="black")
        draw.text((x0 + plot_w // 2 - 40, y0 + plot_h + 24), "training steps", fill="black")
        draw.text((x0 + 4, 8), metric, fill="black")
        if goals and metric in goals:
            _dashed(draw, point(0, goals[metric]), point(last_step, goals[metric]), "black")
        for index, (arm, mean) in enumerate(means.items()):
            colour = COLOURS[index % len(COLOURS)]
            for curve in (runs or {}).get(arm, []):
                line = [point(p["step"], p[metric]) for p in curve]
                if len(line) > 1:
                    draw.line(line, fill=colour, width=1)
            line = [point(s, v) for s, v in zip(mean["step"], mean[metric])]
            if len(line) > 1:
                draw.line(line, fill=colour, width=3)
    for index, arm in enumerate(means):
        x = 20 + (index % 2) * (width // 2)
        y = PANEL[1] + 5 + 18 * (index // 2)
        draw.line([(x, y + 6), (x + 24, y + 6)], fill=COLOURS[index % len(COLOURS)], width=3)
        draw.text((x + 30, y), arm, fill="black")
    image.save(path)
