"""``%%glm --draw``: an image from the cell (CogView, ``images/generations``), shown inline.

The image is downloaded once (the API's links expire after 30 days) and shown as a plain
``image/png`` (or ``image/jpeg``) output, so it stays in the saved notebook; ``-o NAME`` binds its
bytes, or a PIL image when Pillow is installed.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from IPython.core.error import UsageError

from ..api.calls import Request
from ..api.images import ImageError, fetch_image, image_format
from . import render


def show_drawing(magics: Any, client: Any, request: Request, *, local: bool, output: str | None) -> bytes:
    """Send the request, download the image, show it as a saved output, bind ``-o``; the bytes."""
    response = client.send(request)
    items = response.get("data") if isinstance(response, dict) else None
    url = items[0].get("url") if isinstance(items, list) and items and isinstance(items[0], dict) else None
    try:
        data = fetch_image(url, timeout=client.timeout)
    except ImageError as err:
        raise UsageError(str(err)) from None
    notice = magics.local_notice(local)
    if notice:
        render.show(render.text_bundle(notice))
    fmt = image_format(data) or "png"
    model = (request.body or {}).get("model", "")
    caption = f"{model} · {fmt.upper()} · {len(data):,} bytes" + (f" · bound to {output}" if output else "")
    render.show({f"image/{fmt}": base64.b64encode(data).decode("ascii"), "text/plain": f"<image: {caption}>"})
    if output:
        magics.bind(output, as_image(data))
    return data


def as_image(data: bytes) -> Any:
    """A PIL image when Pillow is installed, else the bytes."""
    try:
        from PIL import Image
    except ImportError:
        return data
    return Image.open(io.BytesIO(data))
