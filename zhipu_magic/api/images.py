"""Images for vision models: a file, bytes or a URL -> the ``url`` of an ``image_url`` content part.

A local file or bytes become a base64 ``data:`` URL; the format is read from the magic bytes (PNG,
JPEG, GIF, WebP: what the API accepts), never from the file name. An image over 5 MB is downscaled
with Pillow when it is installed; without Pillow it is refused in one line. http(s) URLs and data URLs
are passed through as they are (the API fetches them).
"""

from __future__ import annotations

import base64
import io
import os
from typing import Any

MAX_IMAGE_BYTES = 5 * 1024 * 1024  # what the API accepts for one image

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


class ImageError(ValueError):
    """An image that cannot be sent (unreadable, unknown format, too large); one line, no traceback."""


def image_format(data: bytes) -> str | None:
    """``"png"``, ``"jpeg"``, ``"gif"`` or ``"webp"`` from the first bytes, else ``None``."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def data_url(data: bytes, name: str = "the image") -> str:
    """``data:image/<format>;base64,...`` for image bytes; over 5 MB they are downscaled first."""
    fmt = image_format(data)
    if fmt is None:
        raise ImageError(f"{name} is not a PNG, JPEG, GIF or WebP image")
    if len(data) > MAX_IMAGE_BYTES:
        data, fmt = shrink(data, name)
    return f"data:image/{fmt};base64,{base64.b64encode(data).decode('ascii')}"


def shrink(data: bytes, name: str = "the image") -> tuple[bytes, str]:
    """Image bytes under 5 MB (JPEG, halving the size until it fits), with Pillow; else ImageError."""
    mb = len(data) / 1024 / 1024
    try:
        from PIL import Image  # optional: only for images over the API's limit
    except ImportError:
        raise ImageError(
            f"{name} is {mb:.1f} MB, over the API's 5 MB per image; install Pillow to downscale it, "
            "or make it smaller"
        ) from None
    image: Any = Image.open(io.BytesIO(data)).convert("RGB")
    while True:
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=85)
        if out.tell() <= MAX_IMAGE_BYTES or min(image.size) < 64:
            return out.getvalue(), "jpeg"
        image = image.resize((max(1, image.width // 2), max(1, image.height // 2)))


def image_url(source: str | bytes | os.PathLike[str]) -> str:
    """The ``url`` of an ``image_url`` part for a path, bytes, a data URL or an http(s) URL."""
    if isinstance(source, bytes):
        return data_url(source)
    text = os.fspath(source)
    if text.lower().startswith(("http://", "https://", "data:image/")):
        return text
    path = os.path.expanduser(text)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_IMAGE_BYTES * 8 + 1)  # far over the limit is refused, not read whole
    except OSError as err:
        raise ImageError(f"cannot read the image {text!r}: {err.strerror or err}") from None
    if len(data) > MAX_IMAGE_BYTES * 8:
        raise ImageError(f"the image {text!r} is over 40 MB; make it smaller first")
    return data_url(data, repr(text))


MAX_FETCH_BYTES = 20 * 1024 * 1024  # a generated image is a few MB at most


def fetch_image(url: str, timeout: float | tuple[float, float] = (10.0, 60.0)) -> bytes:
    """The bytes of a generated image's link (a CDN link: no key is sent), or of a data URL; at most
    20 MB, and they must be an image. Raises ImageError in one line otherwise."""
    if not isinstance(url, str) or not url:
        raise ImageError("the answer has no image link")
    if url.startswith("data:image/"):
        return base64.b64decode(url.split(",", 1)[1])
    import requests  # loaded by the first generated image, not by %load_ext

    try:
        with requests.get(url, timeout=timeout, stream=True) as response:
            response.raise_for_status()
            data = b""
            for piece in response.iter_content(64 * 1024):
                data += piece
                if len(data) > MAX_FETCH_BYTES:
                    raise ImageError("the generated image is over 20 MB; not downloaded")
    except requests.RequestException as err:
        raise ImageError(f"could not download the generated image: {type(err).__name__}") from None
    if image_format(data) is None:
        raise ImageError("the generated image's link did not return an image")
    return data
