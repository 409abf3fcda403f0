"""The local server answers about what it received (issue 10, item 4): a table (a described DataFrame,
any Markdown pipe table, CSV), an error (``%glm fix``: its type, message, failing line and a fix whose
code block is the corrected cell) and images (their count, format, size and shape, nothing invented),
never the generic demo. Over real HTTP to the fixture server; deterministic; one short bilingual label
and an emoji in each answer (the streaming tests want multi-byte characters)."""

from __future__ import annotations

import linecache
import re
import struct
import zlib

import pytest

from zhipu_magic.core.describe import describe, full_csv
from zhipu_magic.notebook.cell_errors import CellError, error_text
from zhipu_magic.notebook.code_back import code_blocks
from zhipu_magic.notebook.commands.fix import ASK

CJK = re.compile(r"[\u4e00-\u9fff]")
EMOJI = re.compile(r"[\U0001f300-\U0001faff\u2600-\u27bf]")
DEMO = ("Key points", "Here is a structured answer", "Code for:", "### Example", "A little math")


def say(make, content, model: str = "glm-4-flash") -> str:
    body = make().chat([{"role": "user", "content": content}], model)
    text = body["choices"][0]["message"]["content"]
    assert CJK.search(text) and EMOJI.search(text), text
    assert not any(d in text for d in DEMO), text  # no generic demo furniture
    return text


def sales(rows: int = 10_000):
    pd = pytest.importorskip("pandas")
    regions = ["north", "south", "east", "west"]
    return pd.DataFrame(
        {
            "region": [regions[i % 4] for i in range(rows)],
            "units": [(i * 37) % 101 for i in range(rows)],
            "price": [9.5 + (i % 7) for i in range(rows)],
            "discount": [None if i % 9 == 0 else 0.1 for i in range(rows)],
        }
    )


# --- tables --------------------------------------------------------------------------------------------


def test_a_described_frame_is_read_back_not_repeated(make) -> None:
    prompt = "What stands out in this data? " + describe(sales(), 2_000, "sales").text
    text = say(make, prompt)
    assert text == say(make, prompt)  # deterministic
    head = text.splitlines()[0]
    assert "`sales`" in head and "pandas DataFrame, 10,000 rows x 4 columns" in head
    assert "What stands out" not in head and "Columns (dtype" not in head  # the heading is not the prompt
    assert "“What stands out in this data?”" in text  # the question, quoted once
    for line in ("`region`: str, no nulls", "`units`: int64, no nulls", "`price`: float64, no nulls"):
        assert line in text
    assert "`discount`: float64, **1,112 nulls** (11.1% of the rows)" in text
    assert "Most nulls: `discount` (1,112)." in text
    assert "| units | 0 | 49.995 | 100 |" in text and "| price | 9.5 | 12.4994 | 15.5 |" in text
    assert "Widest range: `units` (0 to 100); constant: `discount`." in text
    assert "region = `north`, units = `0`, price = `9.5`, discount = `nan`" in text
    assert "Offline demo" in text and "```" not in text


def test_a_cut_description_says_what_it_was_told(make) -> None:
    pd = pytest.importorskip("pandas")
    wide = pd.DataFrame({f"col{i}": range(50) for i in range(120)})
    text = say(make, "Describe " + describe(wide, 300, "wide").text)
    assert "`wide`: a pandas DataFrame, 50 rows x 120 columns" in text
    assert "more columns" in text and "[cut to fit ~300 tokens:" in text


def test_csv_from_full_is_counted_and_computed(make) -> None:
    csv = full_csv(sales(6), 10_000, "sales").text
    text = say(make, f"Summarise this:\n{csv}")
    assert text.startswith("## 📊 Received a CSV table of 6 rows x 4 columns")
    assert "**Columns:** `region`, `units`, `price`, `discount` (and an unnamed index column first)." in text
    assert "**Empty cells:** `discount` 1; most in `discount`." in text
    assert "| units | 0 | 42 | 84 |" in text and "| price | 9.5 | 12 | 14.5 |" in text  # from the rows
    assert "“Summarise this:”" in text


def test_any_markdown_table_is_counted(make) -> None:
    table = "| model | score | note |\n|:---|---:|---|\n| a | 3 | ok |\n| b | 5 | |\n| c | 4.5 | fine |"
    text = say(make, f"Which is best?\n\n{table}\n")
    assert text.startswith("## 📊 Received a Markdown table of 3 rows x 3 columns")
    assert "| score | 3 | 4.16667 | 5 |" in text and "`note` 1" in text
    assert "**First row:** model = `a`, score = `3`, note = `ok`" in text


def test_prose_with_commas_is_not_a_table(make) -> None:
    body = make().chat("List three fruits, please.\nApples, pears, plums.\nRed, green, blue.", "glm-4-flash")
    assert "Received" not in body["choices"][0]["message"]["content"]
    body = make().chat("Write about a town that\nraised funds for a library", "glm-4-flash")
    assert "🔧" not in body["choices"][0]["message"]["content"]  # a line starting "raised" is no error


# --- errors --------------------------------------------------------------------------------------------


def fix_prompt(source: str, number: int = 7) -> str:
    """What ``%glm fix`` sends for ``source`` run as cell ``number`` (its lines known, as IPython's are)."""
    name = f"<cell {number}>"
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    try:
        exec(compile(source, name, "exec"), {})
    except Exception as err:  # noqa: BLE001 - the error the cell raised is the point
        return ASK + error_text(CellError(number, source, err))
    raise AssertionError("the cell did not fail")


def test_zero_division_is_named_and_guarded(make) -> None:
    source = "total = 10\ncount = 0\naverage = total / count\nprint(average)"
    text = say(make, fix_prompt(source))
    assert text.startswith("## 🔧 ZeroDivisionError: division by zero")
    assert "In [7], line 3: `average = total / count` raised `ZeroDivisionError: division by zero`" in text
    assert "the divisor `count` is 0" in text and "non-zero" in text
    (code,) = code_blocks(text)
    assert code == (
        "total = 10\ncount = 0\nif count != 0:\n    average = total / count\nelse:\n"
        '    average = float("nan")  # count is 0: nothing to divide by\nprint(average)'
    )
    exec(compile(code, "<fixed>", "exec"), {})  # the fixed cell runs


def test_an_indented_failing_line_keeps_its_indentation(make) -> None:
    source = "def mean(xs):\n    return sum(xs) / len(xs)\n\nmean([])"
    (code,) = code_blocks(say(make, fix_prompt(source)))
    assert "    if len(xs) != 0:\n        return sum(xs) / len(xs)\n    else:" in code
    compile(code, "<fixed>", "exec")


def test_name_and_key_errors_name_what_is_missing(make) -> None:
    text = say(make, fix_prompt("values = [1, 2]\ntotal = sum(valeus)"))
    assert "`NameError: name 'valeus' is not defined" in text and "a typo for `values`" in text
    assert code_blocks(text) == ["values = [1, 2]\ntotal = sum(values)"]
    text = say(make, fix_prompt("prices = {'tea': 3}\ncost = prices['coffee']"))
    assert "`KeyError: 'coffee'`" in text and "the key `'coffee'` is missing" in text
    (code,) = code_blocks(text)
    assert "if 'coffee' in prices:\n    cost = prices['coffee']" in code
    exec(compile(code, "<fixed>", "exec"), {})


def test_other_errors_get_a_check_line(make) -> None:
    text = say(make, fix_prompt("n = int('seven')"))
    assert "`ValueError: invalid literal for int() with base 10: 'seven'`" in text
    assert "**Fix:** check the value passed on that line" in text
    assert code_blocks(text) == [
        "# check the value passed on that line; print it just before\nn = int('seven')"
    ]


def test_a_pasted_traceback_is_read_too(make) -> None:
    pasted = (
        "Why does this fail?\n\nTraceback (most recent call last):\n"
        '  File "/home/me/job.py", line 12, in <module>\n    rate = done / elapsed\n'
        "ZeroDivisionError: float division by zero"
    )
    text = say(make, pasted)
    assert "`rate = done / elapsed` raised `ZeroDivisionError: float division by zero`" in text
    assert code_blocks(text)[0].startswith("if elapsed != 0:\n    rate = done / elapsed")


# --- images --------------------------------------------------------------------------------------------


def png(width: int, height: int) -> str:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)))
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    import base64

    return (
        "data:image/png;base64," + base64.b64encode(data + chunk(b"IDAT", raw) + chunk(b"IEND", b"")).decode()
    )


def test_images_are_described_by_what_arrived(make) -> None:
    content = [
        {"type": "text", "text": "Look at the plot [image 1, attached] and tell me what stands out."},
        {"type": "image_url", "image_url": {"url": png(400, 240)}},
    ]
    text = say(make, content, "glm-4.6v-flash")
    assert text.startswith("👀 I see 1 image(s) in your message. The images: PNG 400x240 (")
    assert "**1 image received · 收到图片**" in text
    assert "- Image 1: PNG 400x240, 5:3, landscape, chart-sized." in text
    assert "cannot say what it shows" in text and "“Look at the plot [image 1, attached]" in text
    assert "```" not in text and "|---" not in text and "$$" not in text
    two = [*content, {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]
    text = say(make, two, "glm-4.6v-flash")
    assert "**2 images received" in text and "- Image 2: a link, not fetched by the local server." in text
