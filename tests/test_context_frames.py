"""Issue 13: a DataFrame in a prompt (``{df}``, ``{df!full}``) is described within a token budget,
over real HTTP through a real IPython shell, and pandas is never imported for other values."""

from __future__ import annotations

import subprocess
import sys

import pytest

from zhipu_magic.core.describe import describe, frame_kind, full_csv, markdown
from zhipu_magic.core.interpolate import fill, notes

pd = pytest.importorskip("pandas")


def sent_prompt(srv) -> str:
    return [r.body for r in srv.requests if r.body is not None][-1]["messages"][-1]["content"]


def big_frame(rows: int = 10_000):
    return pd.DataFrame(
        {
            "city": [f"city {i % 37}" for i in range(rows)],
            "temperature": [i * 0.1 for i in range(rows)],
            "rainfall_mm": [None if i % 10 == 0 else float(i % 50) for i in range(rows)],
            "sunny": [i % 3 == 0 for i in range(rows)],
        }
    )


def test_a_10000_row_frame_is_described_within_budget_over_http(ip, api):
    ip.user_ns["df"] = big_frame()
    ip.run_cell_magic("glm", "", "What stands out in {df}?")
    sent = sent_prompt(api)
    assert len(sent) <= 2_000 * 4 + 40  # the default frame_budget, in characters
    for column in ("city", "temperature", "rainfall_mm", "sunny"):
        assert f"| {column} |" in sent
    assert "10,000 rows x 4 columns" in sent
    assert "| rainfall_mm | float64 | 1,000 |" in sent  # the null count is exact
    assert "| mean |" in sent and "First 10 rows:" in sent
    assert "city 36" not in sent  # only the first rows, not the whole frame


def test_the_offline_answer_reads_the_frame_back(ip, api):
    """Without a model, the local server answers with what it read in the description: the frame's
    name, shape, columns with dtypes and nulls, numeric ranges, the first row."""
    ip.user_ns["df"] = big_frame()
    ip.run_cell_magic("glm", "", "What stands out in this data? {df}")
    answer = ip.user_ns["_glm"].text
    first = answer.splitlines()[0]
    assert first == "## 📊 `df`: a pandas DataFrame, 10,000 rows x 4 columns · 收到了"
    assert "“What stands out in this data?”" in answer
    assert "`city`: str, no nulls" in answer or "`city`: object, no nulls" in answer
    assert "`rainfall_mm`: float64, **1,000 nulls** (10.0% of the rows)" in answer
    assert "`sunny`: bool, no nulls" in answer and "Most nulls: `rainfall_mm` (1,000)." in answer
    assert "| temperature | 0 | 499.95 | 999.9 |" in answer  # from the describe() it was sent
    assert "city = `city 0`, temperature = `0`, rainfall_mm = `nan`, sunny = `True`" in answer
    assert "Key points" not in answer and "```" not in answer
    assert "rainfall_mm" in ip.rec.final()[-1]["text/plain"]  # and the cell shows it


def test_a_small_budget_cuts_with_a_note_shown_and_sent(ip, api):
    ip.user_ns["wide"] = pd.DataFrame({f"col{i}": range(50) for i in range(120)})
    ip.run_line_magic("config", "GLMMagics.frame_budget = 300")
    ip.run_cell_magic("glm", "", "Describe {wide}")
    sent = sent_prompt(api)
    assert len(sent) <= 300 * 4 + 40
    assert "[cut to fit ~300 tokens:" in sent and "of 120 columns" in sent
    shown = ip.rec.final()[-1]["text/plain"]
    assert "note: wide is a pandas DataFrame:" in shown and "GLMMagics.frame_budget" in shown


def test_full_sends_csv_capped_with_a_note(ip, api):
    ip.user_ns["df"] = big_frame()
    ip.run_line_magic("config", "GLMMagics.value_limit = 3000")
    ip.run_cell_magic("glm", "--dry-run", "Check {df!full}")
    shown = ip.rec.all_text()
    assert "city,temperature,rainfall_mm,sunny" in shown
    assert "CSV capped at 3,000 characters" in shown and "df!full is 10,000 rows as CSV" in shown


def test_small_frame_full_is_the_whole_csv():
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y|z"]})
    out = full_csv(frame, 10_000, "t")
    assert out.note is None and out.text == frame.to_csv()
    described = describe(frame, 2_000, "t")
    assert described.note is None and "| 1 | 2 | y\\|z |" in described.text  # pipes escaped


def test_series_and_other_values():
    series = pd.Series([1.5, None, 3.0], name="score")
    assert frame_kind(series) == "pandas Series" and frame_kind([1, 2]) is None
    filled = fill("{s} and {n!full} and {{s!full}}", {"s": series, "n": 7})
    assert "s is a pandas Series: 3 rows" in filled.text and "| score | float64 | 1 |" in filled.text
    assert filled.text.endswith("and 7 and {s!full}")
    assert notes(filled, None) == []
    assert markdown(["a"], [["1"]]) == "| a |\n|---|\n| 1 |"


def test_pandas_is_not_imported_for_other_values():
    code = (
        "import sys\n"
        "from zhipu_magic.core.interpolate import fill\n"
        "print(fill('{x} {y!full}', {'x': list(range(10)), 'y': {'a': 1}}).text)\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.splitlines() == ["[0, 1, 2, 3, 4, 5, 6, 7, 8, 9] {'a': 1}", "False"]
