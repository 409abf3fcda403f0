"""Issue 13: images into a cell (--image, --fig, {fig}) as image_url parts, the switch to a vision
model, and the local server reading each image's format and size from its bytes, over real HTTP."""

from __future__ import annotations

import base64
import struct
import sys
import zlib

import pytest
from IPython.core.error import UsageError

from zhipu_magic.api import calls
from zhipu_magic.api.errors import GLMError
from zhipu_magic.api.images import MAX_IMAGE_BYTES, ImageError, data_url, image_format, image_url
from zhipu_magic.server.images import image_size


def last_body(srv) -> dict:
    return [r.body for r in srv.requests if r.body is not None][-1]


def png(width: int, height: int) -> bytes:
    """A real grey PNG (stdlib), decodable by any viewer."""
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


JPEG = (
    b"\xff\xd8\xff\xe0"
    + struct.pack(">H", 16)
    + b"JFIF\x00"
    + b"\x00" * 9
    + (b"\xff\xc0" + struct.pack(">HBHH", 17, 8, 48, 64) + b"\x03" + b"\x00" * 9)
)
GIF = b"GIF89a" + struct.pack("<HH", 33, 21) + b"\x00" * 20
WEBP_LOSSY = (
    b"RIFF\x00\x00\x00\x00WEBPVP8 \x00\x00\x00\x00"
    + b"\x00\x00\x00\x9d\x01\x2a"
    + struct.pack("<HH", 320, 200)
)
WEBP_LOSSLESS = b"RIFF\x00\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x2f" + struct.pack("<I", (99 << 14) | 149)
WEBP_EXTENDED = (
    b"RIFF\x00\x00\x00\x00WEBPVP8X\x00\x00\x00\x00\x00\x00\x00\x00"
    + (639).to_bytes(3, "little")
    + (479).to_bytes(3, "little")
)


def test_the_server_decodes_each_format_from_its_bytes():
    assert image_size(png(7, 5)) == ("PNG", 7, 5)
    assert image_size(JPEG) == ("JPEG", 64, 48)
    assert image_size(GIF) == ("GIF", 33, 21)
    assert image_size(WEBP_LOSSY) == ("WebP", 320, 200)
    assert image_size(WEBP_LOSSLESS) == ("WebP", 150, 100)
    assert image_size(WEBP_EXTENDED) == ("WebP", 640, 480)
    assert image_size(b"hello") is None and image_size(b"\x89PNG\r\n\x1a\n") is None
    assert [image_format(x) for x in (png(1, 1), JPEG, GIF, WEBP_LOSSY, b"%PDF")] == [
        "png",
        "jpeg",
        "gif",
        "webp",
        None,
    ]


def test_a_vision_model_over_http_states_each_image(make):
    client = make()
    content = calls.user_content(
        "What is in these?", [data_url(png(7, 5)), data_url(GIF), base64.b64encode(JPEG).decode()]
    )
    assert content[0] == {"type": "text", "text": "What is in these?"} and len(content) == 4
    text = client.chat([{"role": "user", "content": content}], model="glm-4.6v-flash")["choices"][0][
        "message"
    ]["content"]
    assert "PNG 7x5" in text and "GIF 33x21" in text and "JPEG 64x48" in text  # raw base64 (SDK style) too


@pytest.mark.parametrize(
    "url",
    [
        "data:image/png;base64,@@@not base64@@@",
        base64.b64encode(b"plain text").decode(),
        "data:text/plain;base64,aGk=",
    ],
)
def test_a_bad_image_gets_the_apis_400(make, url):
    content = calls.user_content("look", [url])
    with pytest.raises(GLMError) as info:
        make().chat([{"role": "user", "content": content}], model="glm-4.6v-flash")
    assert info.value.status == 400 and info.value.code == "1210" and "Image input" in str(info.value)


def test_image_url_reads_files_and_refuses_what_it_cannot_send(tmp_path):
    path = tmp_path / "shot.png"
    path.write_bytes(png(3, 2))
    assert image_url(path) == "data:image/png;base64," + base64.b64encode(png(3, 2)).decode()
    assert image_url("https://example.com/a.png") == "https://example.com/a.png"
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ImageError, match="not a PNG, JPEG, GIF or WebP"):
        image_url(tmp_path / "notes.txt")
    with pytest.raises(ImageError, match="cannot read the image"):
        image_url(tmp_path / "missing.png")
    big = tmp_path / "big.png"
    big.write_bytes(png(1, 1) + b"\x00" * MAX_IMAGE_BYTES)
    try:
        import PIL  # noqa: F401
    except ImportError:
        with pytest.raises(ImageError, match=r"over the API's 5 MB per image; install Pillow"):
            image_url(big)
    else:  # Pillow downscales (here: re-encodes) it under the limit
        small = base64.b64decode(image_url(big).split(",", 1)[1])
        assert image_format(small) == "jpeg" and len(small) <= MAX_IMAGE_BYTES


def test_image_option_on_a_text_model_switches_to_vision_and_says_so(ip, api, tmp_path):
    path = tmp_path / "shot.png"
    path.write_bytes(png(12, 9))
    ip.run_cell_magic("glm", f"--image {path}", "What colour is this?")
    body = last_body(api)
    assert body["model"] == "glm-4.6v-flash"  # the default glm-4-flash has no vision
    parts = body["messages"][-1]["content"]
    assert parts[0] == {"type": "text", "text": "What colour is this?"}
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    shown = ip.rec.final()[-1]["text/plain"]
    assert "PNG 12x9" in shown
    assert "glm-4-flash has no vision, so glm-4.6v-flash answered (GLMMagics.vision_model)" in shown


def test_a_missing_image_is_one_line_and_sends_nothing(ip, api, tmp_path):
    with pytest.raises(UsageError, match="cannot read the image"):
        ip.run_cell_magic("glm", f"--image {tmp_path / 'nope.png'}", "Describe")
    assert not [r for r in api.requests if r.body]


def test_a_plotted_figure_arrives_as_a_png_of_its_size(ip, api):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    figure = plt.figure(figsize=(4, 3), dpi=50)
    plt.plot([1, 2, 3], [2, 4, 1])
    try:
        ip.run_cell_magic("glm", "", "Look at the plot {fig} and tell me what stands out")
    finally:
        plt.close(figure)
    body = last_body(api)
    parts = body["messages"][-1]["content"]
    assert parts[0]["text"] == "Look at the plot [image 1, attached] and tell me what stands out"
    sent = base64.b64decode(parts[1]["image_url"]["url"].split(",", 1)[1])
    assert image_size(sent) == ("PNG", 200, 150)  # 4 x 3 inches at 50 dpi
    assert "PNG 200x150" in ip.user_ns["_glm"].text  # what the server read from the bytes


def test_a_figure_variable_and_no_figure_at_all(ip, api):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    fig, ax = plt.subplots(figsize=(2, 1), dpi=40)
    ax.bar([1, 2], [3, 4])
    plt.close(fig)  # as the inline backend does after the cell: the variable still holds it
    ip.user_ns["fig"] = fig
    ip.run_cell_magic("glm", "-m glm-4.6v-flash", "Explain {fig}")
    assert "PNG 80x40" in ip.user_ns["_glm"].text
    ip.user_ns.pop("fig")
    with pytest.raises(UsageError, match="no figure to attach"):
        ip.run_cell_magic("glm", "--fig", "Explain")


def test_without_pillow_a_big_image_is_one_clear_line(tmp_path, monkeypatch):
    big = tmp_path / "big.png"
    big.write_bytes(png(1, 1) + b"\x00" * MAX_IMAGE_BYTES)
    monkeypatch.setitem(sys.modules, "PIL", None)  # as if Pillow were not installed
    with pytest.raises(ImageError) as info:
        image_url(big)
    assert "\n" not in str(info.value) and "over the API's 5 MB per image; install Pillow" in str(info.value)
