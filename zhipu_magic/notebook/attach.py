"""Images into a ``%%glm`` cell: ``--image PATH_OR_URL``, ``--fig``, ``{fig}`` and image values.

``{name}`` whose value is an image (a matplotlib ``Figure``, or anything with ``_repr_png_``: a PIL
image, ``Out[n]`` of an image cell) is attached as an ``image_url`` part instead of being inlined as
text; ``{fig}`` with no ``fig`` defined (or ``--fig``) is the current matplotlib figure, else the last
image in ``Out``. matplotlib is only looked up in ``sys.modules``, never imported. A request with
images on a model without vision goes to ``GLMMagics.vision_model``, with a note: never silently.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Mapping
from typing import Any

from IPython.core.error import UsageError

from ..api.images import ImageError, data_url, image_url
from ..api.models import get_model
from ..core.interpolate import lookup

_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*|Out\[-?\d+\])\}(?!\})")


def images_in(magics: Any, args: Any, cell: str, namespace: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The cell with image placeholders replaced by ``[image N]``, and the image URLs to attach."""
    urls: list[str] = []
    if not (magics.interpolate or args.image or args.fig):
        return cell, urls
    try:
        for source in args.image or []:
            urls.append(image_url(source))
        if args.fig:
            urls.append(current_figure(namespace))

        def replace(match: re.Match[str]) -> str:
            expr = match.group(1)
            png = png_of(lookup(expr, namespace))
            if png is not None:
                urls.append(data_url(png, "{" + expr + "}"))
            elif expr == "fig" and "fig" not in namespace:
                urls.append(current_figure(namespace))
            else:
                return match.group(0)
            return f"[image {len(urls)}, attached]"

        cell = _PLACEHOLDER.sub(replace, cell) if magics.interpolate else cell
    except ImageError as err:
        raise UsageError(str(err)) from None
    return cell, urls


def png_of(value: Any) -> bytes | None:
    """PNG bytes of a matplotlib figure or of a value with ``_repr_png_``; ``None`` for the rest."""
    cls = type(value)
    if cls.__module__.startswith("matplotlib") and hasattr(value, "savefig"):
        buf = io.BytesIO()
        value.savefig(buf, format="png")
        return buf.getvalue()
    if isinstance(value, type) or not callable(getattr(value, "_repr_png_", None)):
        return None
    try:
        png = value._repr_png_()
    except Exception:
        return None
    return png if isinstance(png, bytes) else None


def current_figure(namespace: Mapping[str, Any]) -> str:
    """The current matplotlib figure (if matplotlib is loaded and a figure is open), else the last
    image in ``Out``, as a data URL; a one-line UsageError when there is none."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None and plt.get_fignums():
        png = png_of(plt.gcf())
        if png:
            return data_url(png, "the current figure")
    out = namespace.get("Out") or {}
    for key in sorted(out, reverse=True) if isinstance(out, Mapping) else []:
        png = png_of(out[key])
        if png:
            return data_url(png, f"Out[{key}]")
    raise UsageError(
        "no figure to attach: no open matplotlib figure and no image in Out "
        "(keep one with fig = plt.gcf(), then use {fig})"
    )


def vision_model(magics: Any, model: str, images: list[str], notes: list[str]) -> str:
    """The model to ask: ``model``, or ``GLMMagics.vision_model`` when images go to a text model."""
    info = get_model(model)
    if not images or info is None or info.vision or info.kind != "chat":
        return model
    notes.append(f"note: {model} has no vision, so {magics.vision_model} answered (GLMMagics.vision_model)")
    return magics.vision_model
