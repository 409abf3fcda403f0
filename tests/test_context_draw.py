"""Issue 13: images out. ``%%glm --draw`` over real HTTP in a real IPython shell: the local server
draws a real PNG from the prompt, the cell shows it as a plain image/png output, -o binds it."""

from __future__ import annotations

import base64
import struct
import zlib

import pytest
import requests

from zhipu_magic.api import calls
from zhipu_magic.server.drawing import drawing, drawn_size
from zhipu_magic.server.images import image_size


def decode_png(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the raw scanlines of a PNG, read with the stdlib (a real decoder's checks:
    chunk CRCs, one IHDR, IDAT inflated to exactly height x (1 + 3 x width) bytes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = header[:4]
    raw = zlib.decompress(idat)
    assert (depth, colour) == (8, 2) and len(raw) == height * (1 + 3 * width)
    return width, height, raw


def test_draw_shows_a_real_png_drawn_from_the_prompt(ip, api):
    ip.run_cell_magic("glm", "--draw -o pic", "A lighthouse at dusk, watercolour")
    body = [r.body for r in api.requests if r.body is not None][-1]
    assert body == {"model": "cogview-3-flash", "prompt": "A lighthouse at dusk, watercolour"}
    output = ip.rec.final()[-1]
    png = base64.b64decode(output["image/png"])
    width, height, raw = decode_png(png)
    assert (width, height) == (128, 128) and image_size(png) == ("PNG", 128, 128)
    assert len(set(raw)) > 4  # a picture, not one flat colour
    assert "cogview-3-flash · PNG" in output["text/plain"]
    pic = ip.user_ns["pic"]
    assert (pic if isinstance(pic, bytes) else None) == png or getattr(pic, "size", None) == (128, 128)


def test_the_same_prompt_draws_the_same_image_and_size_is_honoured(make, server):
    client = make()
    one = client.images("a red fox")["data"][0]["url"]
    two = client.images("a red fox")["data"][0]["url"]
    other = client.images("a red fox", size="768x1344")["data"][0]["url"]
    assert one == two and one != other
    first, again = requests.get(one, timeout=10), requests.get(two, timeout=10)  # no key: like the CDN
    assert first.headers["Content-Type"] == "image/png" and first.content == again.content
    assert image_size(requests.get(other, timeout=10).content) == ("PNG", 96, 168)
    assert drawn_size("2048x2048") == (256, 256) and drawn_size(None) == (128, 128)
    assert decode_png(drawing("ab" * 16, 40, 30))[:2] == (40, 30)


def test_draw_dry_run_shows_the_request(ip, api):
    ip.run_cell_magic("glm", "--draw --dry-run -m cogview-4", "A cat")
    shown = ip.rec.all_text()
    assert "images/generations" in shown and "cogview-4" in shown
    assert not [r for r in api.requests if r.body]
    assert calls.images("x").body == {"model": "cogview-3-flash", "prompt": "x"}


def test_a_drawing_is_logged_without_its_bytes(ip, api):
    import json
    import os
    from pathlib import Path

    from zhipu_magic.core.ledger import db, get_ledger, query

    ip.run_cell_magic("glm", "--draw -m cogview-4", "A lighthouse at dusk, watercolour")
    output = ip.rec.calls[-1]
    png = base64.b64decode(output["data"]["image/png"])
    (row,) = query.recent(get_ledger(), 5)
    assert row["kind"] == "draw" and row["model"] == "cogview-4" and row["status"] == "ok"
    assert row["prompt"] == "A lighthouse at dusk, watercolour"
    assert json.loads(row["request"]) == {"model": "cogview-4", "prompt": "A lighthouse at dusk, watercolour"}
    assert row["answer"].startswith(f"PNG image, 128×128 px, {len(png):,} bytes")
    assert output["metadata"]["zhipu_magic"]["log_id"] == row["id"]  # the saved output says where from
    home = Path(os.environ["ZHIPU_MAGIC_HOME"])
    stored = b"".join(p.read_bytes() for p in home.glob(db.FILENAME + "*"))
    assert stored and png[16:40] not in stored and output["data"]["image/png"][:40].encode() not in stored


def test_a_failed_drawing_is_logged_as_an_error(ip, api):
    from zhipu_magic.api.errors import GLMError
    from zhipu_magic.core.ledger import get_ledger, query

    with pytest.raises(GLMError):
        ip.run_cell_magic("glm", "--draw -m no-such-model", "A cat")
    (row,) = query.recent(get_ledger(), 5)
    assert row["kind"] == "draw" and row["status"] == "error" and row["model"] == "no-such-model"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--draw --video", "--draw and --video do not go together"),
        ("--draw --async", "not as a task: drop --async"),
        ("--draw --wait", "not as a task: drop --wait"),
        ("--draw --async --dry-run", "drop --async"),
    ],
)
def test_draw_with_a_task_option_is_refused_in_one_line(ip, api, line, message):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match=message) as info:
        ip.run_cell_magic("glm", line, "A cat")
    assert "\n" not in str(info.value)
    assert not [r for r in api.requests if r.body]  # nothing sent, no task made
