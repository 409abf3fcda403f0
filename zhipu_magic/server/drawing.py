"""``POST images/generations`` on the local server: a real, small PNG drawn from the prompt.

The answer has the real API's shape (``{"created", "data": [{"url"}]}``); the URL names the drawing
(``files/drawn/<digest>-<W>x<H>.png``), so the image is made again from its URL and the server keeps
no state. The picture (a gradient, bands and discs in colours taken from the prompt's hash) is written
by a stdlib PNG writer (``zlib`` + ``struct``): any viewer decodes it, and the same prompt draws the
same image. Standard library only.
"""

from __future__ import annotations

import hashlib
import re
import struct
import time
import zlib

from .checks import Fail, check_model
from .wire import PREFIX, Exchange, Request

_SIZE = re.compile(r"(\d{3,4})[x*](\d{3,4})")
SCALE = 8  # a 1024x1024 request draws 128x128: small, quick, still a real image
MIN_SIDE, MAX_SIDE = 32, 256


def png(width: int, height: int, rgb_rows: list[bytes]) -> bytes:
    """A truecolour 8-bit PNG from ``height`` rows of ``3 * width`` bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + row for row in rgb_rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def drawing(digest: str, width: int, height: int) -> bytes:
    """The picture for a prompt's digest (hex): deterministic, a few colours, bands and two discs."""
    seed = bytes.fromhex(digest)
    top, bottom, accent = seed[0:3], seed[3:6], seed[6:9]
    discs = [(seed[9] % width, seed[10] % height, 6 + seed[11] % max(8, width // 3)),
             (seed[12] % width, seed[13] % height, 4 + seed[14] % max(6, width // 4))]  # fmt: skip
    band = 4 + seed[15] % 12
    rows = []
    for y in range(height):
        t = y / max(1, height - 1)
        base = bytes(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        row = bytearray(base * width)
        if (y // band) % 3 == 0:  # a faint band every third stripe
            row = bytearray((v + 24) % 256 for v in row)
        for cx, cy, r in discs:
            dy = y - cy
            if abs(dy) <= r:
                half = int((r * r - dy * dy) ** 0.5)
                lo, hi = max(0, cx - half), min(width, cx + half + 1)
                row[3 * lo : 3 * hi] = accent * (hi - lo)
        rows.append(bytes(row))
    return png(width, height, rows)


def drawn_size(size: object) -> tuple[int, int]:
    """The drawing's pixels for a requested ``size`` ("1024x1024"): an eighth of it, 32..256 a side."""
    match = _SIZE.fullmatch(size) if isinstance(size, str) else None
    width, height = (int(match.group(1)), int(match.group(2))) if match else (1024, 1024)
    clamp = lambda v: max(MIN_SIDE, min(MAX_SIDE, v // SCALE))  # noqa: E731
    return clamp(width), clamp(height)


def generate(h: Exchange, req: Request) -> None:
    """``POST images/generations``: checks as the API does, then a link to the drawing."""
    body = req.body
    check_model(body, "image")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise Fail(400, "1213", "The prompt parameter was not received.")
    digest = hashlib.sha256(prompt.strip().encode()).hexdigest()[:32]
    width, height = drawn_size(body.get("size"))
    url = f"{h.origin}{PREFIX}/files/drawn/{digest}-{width}x{height}.png"
    h.send_json(200, {"created": int(time.time()), "data": [{"url": url}]})


def drawn(h: Exchange, req: Request) -> None:
    """``GET files/drawn/<digest>-<W>x<H>.png``: the drawing, made again from its name (no key, as
    the real CDN links)."""
    digest, _, size = req.param.partition("-")
    width, _, height = size.partition("x")
    w, hgt = int(width), int(height)
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= hgt <= MAX_SIDE):
        raise Fail(404, "1222", f"File not found: drawn/{req.param}.png")
    h.send_body(200, drawing(digest, w, hgt), "image/png", {"Cache-Control": "max-age=3600"})
