"""Issue 13: ``{df}`` and ``{df!full}`` for a polars frame or series, over real HTTP through a real IPython
shell (the same description as pandas: shape, dtypes, exact null counts, describe(), first rows)."""

from __future__ import annotations

import pytest

pl = pytest.importorskip("polars")


def sent_prompt(srv) -> str:
    return [r.body for r in srv.requests if r.body is not None][-1]["messages"][-1]["content"]


def frame(rows: int = 12_000):
    return pl.DataFrame(
        {
            "city": [f"city {i % 37}" if i % 3 else None for i in range(rows)],
            "temp": [None if i % 10 == 0 else i * 0.1 for i in range(rows)],
            "sunny": [i % 2 == 0 for i in range(rows)],
        }
    )


def test_a_polars_frame_is_described_within_budget(ip, api):
    ip.user_ns["df"] = frame()
    ip.run_cell_magic("glm", "", "What stands out in {df}?")
    sent = sent_prompt(api)
    assert len(sent) <= 2_000 * 4 + 40
    assert "df is a polars DataFrame: 12,000 rows x 3 columns" in sent
    assert "| city | String | 4,000 |" in sent and "| temp | Float64 | 1,200 |" in sent  # exact nulls
    assert "| sunny | Boolean | 0 |" in sent
    assert "| mean |" in sent and "First 10 rows:" in sent
    assert "city 36" not in sent  # the first rows only


def test_a_polars_series_and_full_csv_capped(ip, api):
    ip.user_ns["df"] = frame()
    ip.user_ns["s"] = frame(30)["temp"]
    ip.run_line_magic("config", "GLMMagics.value_limit = 400")
    ip.run_cell_magic("glm", "", "Compare {s} with {df!full}")
    sent = sent_prompt(api)
    assert "s is a polars Series: 30 rows" in sent and "| temp | Float64 | 3 |" in sent
    assert "city,temp,sunny\n,,true\ncity 1,0.1,false" in sent  # polars' own CSV, header first
    assert "CSV capped at 400 characters" in sent
    shown = ip.rec.final()[-1]["text/plain"]
    assert "df!full is 12,000 rows as CSV" in shown and "GLMMagics.value_limit" in shown
