"""The local server reads the images it is sent: format and pixel size from the bytes (stdlib only).

An ``image_url`` part holds a ``data:image/...;base64,`` URL, raw base64 (what the official SDKs send
after stripping the prefix) or an http(s) URL (not fetched). :func:`seen` says what a vision model
"sees" (``PNG 640x480``), so a test can prove an image arrived intact; :func:`check_parts` raises
``ValueError`` for a part the real API refuses (the caller turns it into a 400).
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from typing import Any

_DATA_URL = re.compile(r"data:image/[A-Za-z0-9.+-]+;base64,", re.IGNORECASE)
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_size(data: bytes) -> tuple[str, int, int] | None:
    """``(format, width, height)`` decoded from the header of a PNG, JPEG, GIF or WebP, else None."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return "PNG", width, height
        if data[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack("<HH", data[6:10])
            return "GIF", width, height
        if data[:2] == b"\xff\xd8":
            return _jpeg(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp(data)
    except struct.error:
        return None
    return None


def _jpeg(data: bytes) -> tuple[str, int, int] | None:
    """Walk the JPEG segments to the first start-of-frame marker (SOFn: height, then width)."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD9)):  # standalone markers carry no length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return "JPEG", width, height
        pos += 2 + length
    return None


def _webp(data: bytes) -> tuple[str, int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return "WebP", width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20] == 0x2F:
        (bits,) = struct.unpack("<I", data[21:25])
        return "WebP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return "WebP", width, height
    return None


def image_bytes(url: Any) -> bytes | None:
    """The bytes of a data URL or raw base64; ``None`` for an http(s) URL (not fetched here).
    Raises ``ValueError`` when it is neither or the base64 does not decode."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("empty image url")
    text = url.strip()
    if text.lower().startswith(("http://", "https://")):
        return None
    match = _DATA_URL.match(text)
    if text.lower().startswith("data:") and match is None:
        raise ValueError("not a base64 image data URL")
    payload = text[match.end() :] if match else text
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the base64 does not decode") from None


def _url_of(part: dict[str, Any]) -> Any:
    inner = part.get("image_url")
    return inner.get("url") if isinstance(inner, dict) else inner


def check_parts(content: Any) -> None:
    """Every ``image_url`` part of a message holds a URL or a decodable image (else ``ValueError``)."""
    if not isinstance(content, list):
        return
    for j, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") != "image_url":
            continue
        try:
            data = image_bytes(_url_of(part))
        except ValueError as err:
            raise ValueError(f"content[{j}].image_url: {err}") from None
        if data is not None and image_size(data) is None:
            raise ValueError(f"content[{j}].image_url: not a PNG, JPEG, GIF or WebP image")


def seen(content: Any) -> list[str]:
    """One phrase per image part: ``PNG 640x480 (12,345 bytes)`` or ``an image at https://...``."""
    out = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict) or part.get("type") != "image_url":
            continue
        try:
            data = image_bytes(_url_of(part))
        except ValueError:
            out.append("an unreadable image")
            continue
        if data is None:
            out.append(f"an image at {str(_url_of(part))[:80]} (not fetched by the local server)")
            continue
        info = image_size(data)
        out.append(f"{info[0]} {info[1]}x{info[2]} ({len(data):,} bytes)" if info else "an unknown image")
    return out
