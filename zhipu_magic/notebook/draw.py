"""``%%glm --draw``: an image from the cell (CogView, ``images/generations``), shown inline.

The image is downloaded once (the API's links expire after 30 days) and shown as a plain
``image/png`` (or ``image/jpeg``) output, so it stays in the saved notebook; ``-o NAME`` binds its
bytes, or a PIL image when Pillow is installed. The call is logged (kind ``draw``: the prompt, the
model, a note of the image's format, pixel size and bytes; never the image itself).
"""

from __future__ import annotations

import base64
import io
import struct
import time
from types import SimpleNamespace
from typing import Any

from IPython.core.error import UsageError

from ..api.calls import Request
from ..api.images import ImageError, fetch_image, image_format
from . import render


def check(args: Any) -> None:
    """``--draw`` makes one image at once: refused with a task option, in one line with the fix."""
    if not args.draw:
        return
    if args.video:
        raise UsageError("--draw and --video do not go together (an image or a video): keep one of them")
    if args.async_:
        given = "--wait" if args.wait else "--async"
        raise UsageError(f"--draw makes its image at once, not as a task: drop {given}")


def show_drawing(magics: Any, client: Any, request: Request, *, local: bool, output: str | None) -> bytes:
    """Send the request, download the image, show it as a saved output, bind ``-o``; the bytes."""
    model = (request.body or {}).get("model", "")
    drawn = SimpleNamespace(model=model, text="", request_id=None, error=None, started=time.monotonic())
    try:
        response = client.send(request)
        drawn.request_id = response.get("request_id") if isinstance(response, dict) else None
        data = fetch_image(image_link(response), timeout=client.timeout)
    except ImageError as err:
        _log(magics, drawn, request, local, client, err)
        raise UsageError(str(err)) from None
    except Exception as err:
        _log(magics, drawn, request, local, client, err)
        raise
    fmt = image_format(data) or "png"
    drawn.text = image_note(fmt, data)
    _log(magics, drawn, request, local, client)
    notice = magics.local_notice(local)
    if notice:
        render.show(render.text_bundle(notice))
    caption = f"{model} · {fmt.upper()} · {len(data):,} bytes" + (f" · bound to {output}" if output else "")
    bundle = {f"image/{fmt}": base64.b64encode(data).decode("ascii"), "text/plain": f"<image: {caption}>"}
    render.show(bundle, render.provenance_metadata(drawn))
    if output:
        magics.bind(output, as_image(data))
    return data


def image_link(response: Any) -> Any:
    """The first image's ``url`` in an ``images/generations`` answer (``None`` when there is none)."""
    items = response.get("data") if isinstance(response, dict) else None
    return items[0].get("url") if isinstance(items, list) and items and isinstance(items[0], dict) else None


def _log(magics: Any, drawn: Any, request: Request, local: bool, client: Any, error: Any = None) -> None:
    drawn.error, drawn.elapsed = error, time.monotonic() - drawn.started
    magics.log_call(drawn, request.body, kind="draw", local=local, base_url=client.base_url)


def image_note(fmt: str, data: bytes) -> str:
    """What the log keeps of an image: ``PNG image, 128×128 px, 2,345 bytes`` (never the bytes)."""
    size = pixel_size(data)
    pixels = f", {size[0]}×{size[1]} px" if size else ""
    return f"{fmt.upper()} image{pixels}, {len(data):,} bytes (shown in the cell's output, not logged)"


def pixel_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG, GIF or JPEG header (``None`` for anything else)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    pos = 2 if data[:2] == b"\xff\xd8" else len(data)
    while pos + 9 <= len(data) and data[pos] == 0xFF:
        marker, length = data[pos + 1], struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    return None


def as_image(data: bytes) -> Any:
    """A PIL image when Pillow is installed, else the bytes."""
    try:
        from PIL import Image
    except ImportError:
        return data
    return Image.open(io.BytesIO(data))
