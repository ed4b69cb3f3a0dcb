"""A line chart as a PNG, written with zlib alone (a chart does not need an imaging library)."""

import struct
import zlib
from collections.abc import Callable, Sequence

Color = tuple[int, int, int]

PALETTE: tuple[Color, ...] = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)
MASTER_COLOR: Color = (0, 0, 0)


def line_chart(
    series: Sequence[tuple[Sequence[float], Color]], *, width: int = 1000, height: int = 500
) -> bytes:
    """Each series drawn over the same x range (its points spread evenly) and one y scale."""
    margin = 20
    pixels = bytearray(b"\xff" * (width * height * 3))
    values = [v for points, _ in series for v in points]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high == low:
        low, high = low - 1, high + 1

    def plot(x: int, y: int, color: Color) -> None:
        if 0 <= x < width and 0 <= y < height:
            at = (y * width + x) * 3
            pixels[at : at + 3] = bytes(color)

    axis = (160, 160, 160)
    for x in range(margin, width - margin):
        plot(x, height - margin, axis)
    for y in range(margin, height - margin + 1):
        plot(margin, y, axis)
    span_x, span_y = width - 2 * margin - 1, height - 2 * margin
    for points, color in series:
        last = None
        for i, value in enumerate(points):
            x = margin + (round(i * span_x / (len(points) - 1)) if len(points) > 1 else 0)
            y = height - margin - round((value - low) / (high - low) * span_y)
            if last is not None:
                _line(last, (x, y), color, plot)
            last = (x, y)
    return _png(width, height, pixels)


def _line(
    a: tuple[int, int], b: tuple[int, int], color: Color, plot: Callable[[int, int, Color], None]
) -> None:
    """Bresenham's line."""
    (x0, y0), (x1, y1) = a, b
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    error = dx + dy
    while True:
        plot(x0, y0, color)
        if x0 == x1 and y0 == y1:
            return
        doubled = 2 * error
        if doubled >= dy:
            error += dy
            x0 += sx
        if doubled <= dx:
            error += dx
            y0 += sy


def _png(width: int, height: int, pixels: bytearray) -> bytes:
    stride = width * 3
    raw = b"".join(
        b"\x00" + bytes(pixels[row * stride : (row + 1) * stride]) for row in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )
