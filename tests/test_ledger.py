"""The call log's core: SQLite under ZHIPU_MAGIC_HOME, schema migrations, search, several writers at
once, a broken or read-only database, prices. Real files, real processes, real answers from the
package's local server."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from zhipu_magic.api.answer import Answer
from zhipu_magic.core import ledger
from zhipu_magic.core.ledger import db, prices, query, records

ROOT = Path(__file__).resolve().parents[1]


def answered(make, prompt: str, model: str = "glm-4-flash") -> tuple[Answer, dict]:
    """A real answer from the local server, and the request body that asked for it."""
    from zhipu_magic.api import calls

    request = calls.chat([{"role": "user", "content": prompt}], model)
    answer = Answer(model)
    answer.set_response(make().send(request))
    return answer, request.body


def test_records_round_trip_with_usage_and_search(make, tmp_path):
    book = ledger.get_ledger(tmp_path)
    answer, body = answered(make, "Tell me about owls")
    row = records.make_record(answer, body, kind="sync", backend="local", conversation="zoo")
    log_id = book.add(row)
    got = query.one(book, log_id)
    assert got["answer"] == answer.text and got["prompt"] == "Tell me about owls"
    assert got["prompt_tokens"] == answer.usage["prompt_tokens"] and got["conversation"] == "zoo"
    assert json.loads(got["request"]) == body and got["status"] == "ok" and got["cost"] == 0.0
    word = max(re.findall(r"[A-Za-z]{5,}", answer.text.replace("owls", "")), key=len)
    assert [r["id"] for r in query.recent(book, search="owls")] == [log_id]
    assert [r["id"] for r in query.recent(book, search=word)] == [log_id]
    assert query.recent(book, search='no"such-thing AND (') == []  # no query syntax can fail
    assert book.path.parent == tmp_path and (tmp_path / db.FILENAME).exists()
    assert sqlite3.connect(book.path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_request_hash_is_stable_and_ignores_delivery():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2}
    same = {"temperature": 0.2, "stream": True, "messages": [{"content": "hi", "role": "user"}], "model": "m"}
    assert records.request_hash(body, "local") == records.request_hash(same, "local")
    assert records.request_hash(body, "local") != records.request_hash({**body, "temperature": 0.3}, "local")
    assert records.request_hash(body, "local") != records.request_hash(body, "https://api.z.ai/api/paas/v4")
    assert records.backend_name("http://u:secret@h/v4/", False) == "http://***@h/v4"


def test_an_old_schema_is_migrated_and_its_rows_become_searchable(tmp_path):
    path = tmp_path / db.FILENAME
    old = sqlite3.connect(path, isolation_level=None)
    db.MIGRATIONS[0](old)  # what version 1 created
    old.execute("PRAGMA user_version = 1")
    old.execute(
        "INSERT INTO calls (time, model, prompt, answer, status) "
        "VALUES ('2026-01-01', 'm', 'p', 'kestrel', 'ok')"
    )
    old.close()
    book = db.Ledger(path)
    assert [r["answer"] for r in query.recent(book, search="kestrel")] == ["kestrel"]
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == db.SCHEMA_VERSION == len(db.MIGRATIONS)


def test_like_search_when_there_is_no_fts(tmp_path):
    """A database made by an SQLite without FTS5 (version 2, no calls_fts) is searched with LIKE."""
    path = tmp_path / db.FILENAME
    conn = sqlite3.connect(path, isolation_level=None)
    db.MIGRATIONS[0](conn)
    conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION}")
    conn.close()
    book = db.Ledger(path)
    for text in ("100% sure", "a_b", "plain"):
        book.add({"time": "2026-01-01", "prompt": "q", "answer": text, "status": "ok"})
    assert not book.has_search()
    assert [r["answer"] for r in query.recent(book, search="100%")] == ["100% sure"]
    assert [r["answer"] for r in query.recent(book, search="a_b")] == ["a_b"]


WRITER = """
import sys
from zhipu_magic.api.answer import Answer
from zhipu_magic.core import ledger
for i in range(int(sys.argv[2])):
    a = Answer("glm-4-flash")
    a.set_response({"choices": [{"message": {"content": f"{sys.argv[1]}-{i}"}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}})
    assert ledger.record(a, {"model": "glm-4-flash", "messages": []}, kind="sync") is not None
"""


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    env = {**os.environ, "ZHIPU_MAGIC_HOME": str(tmp_path)}
    n = 150
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, name, str(n)], env=env, stderr=subprocess.PIPE)
        for name in ("a", "b")
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
        assert b"Warning" not in proc.stderr.read()
    rows = sqlite3.connect(tmp_path / db.FILENAME).execute("SELECT answer FROM calls").fetchall()
    assert sorted(r[0] for r in rows) == sorted(f"{w}-{i}" for w in "ab" for i in range(n))


def test_a_broken_database_degrades_to_memory_with_one_warning(tmp_path):
    (tmp_path / db.FILENAME).write_bytes(b"this is not a database" * 100)
    book = db.Ledger(tmp_path / db.FILENAME)
    with pytest.warns(db.LedgerWarning, match="cannot be written") as caught:
        first = book.add({"time": "t", "answer": "one", "status": "ok"})
        second = book.add({"time": "t", "answer": "two", "status": "ok"})
    assert len(caught) == 1 and book.in_memory and book.problem
    assert [r["answer"] for r in query.recent(book)] == ["two", "one"] and second == first + 1
    assert (tmp_path / db.FILENAME).read_bytes().startswith(b"this is not a database")


READ_ONLY = """
import os, sys, warnings
from zhipu_magic.api.answer import Answer
from zhipu_magic.core import ledger
from zhipu_magic.core.ledger import db, prices, query, records
if os.geteuid() == 0:  # root writes anywhere: become nobody (modules loaded), for whom the file is read-only
    os.setgid(65534); os.setuid(65534)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for text in ("x", "y"):
        a = Answer("glm-4-flash"); a.set_response({"choices": [{"message": {"content": text}}]})
        assert ledger.record(a, {"model": "glm-4-flash"}, kind="sync") is not None
book = ledger.get_ledger()
print(len(caught), book.in_memory, [r["answer"] for r in query.recent(book)])
"""


def test_a_read_only_database_degrades_to_memory(tmp_path):
    home = Path(tempfile.mkdtemp(prefix="zm-ro-"))  # outside pytest's 0700 tree: nobody may read it
    try:
        book = db.Ledger(home / db.FILENAME)
        book.add({"time": "t", "answer": "kept", "status": "ok"})
        book.close()
        for name in os.listdir(home):
            os.chmod(home / name, 0o444)
        os.chmod(home, 0o555)
        env = {**os.environ, "ZHIPU_MAGIC_HOME": str(home), "PYTHONPATH": str(ROOT)}
        out = subprocess.run(
            [sys.executable, "-c", READ_ONLY], env=env, capture_output=True, text=True, timeout=60, cwd="/"
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["1", "True", "['y',", "'x']"]
        assert [r[0] for r in sqlite3.connect(home / db.FILENAME).execute("SELECT answer FROM calls")] == [
            "kept"
        ]
    finally:
        os.chmod(home, 0o755)
        subprocess.run(["rm", "-rf", str(home)], check=False)


def test_logging_switched_off_records_nothing(tmp_path, monkeypatch):
    answer = Answer("glm-4-flash")
    monkeypatch.setenv(ledger.LOG_ENV_VAR, "off")
    assert not ledger.logging_enabled() and ledger.record(answer, {}, kind="sync") is None
    ledger.set_logging(True)
    try:
        assert ledger.record(answer, {}, kind="sync") is not None
    finally:
        ledger.set_logging(None)


def test_prices_free_known_unknown_and_batch(monkeypatch):
    usage = {"prompt_tokens": 1_000, "completion_tokens": 3_000}
    assert prices.cost("glm-4-flash", usage) == 0.0 and prices.describe("glm-4-flash", usage) == "free"
    assert prices.cost("glm-4-plus", usage) is None and prices.describe("glm-4-plus", usage) == "cost unknown"
    monkeypatch.setenv(prices.PRICES_ENV_VAR, "glm-4-plus=5/10, glm-4-air=0.5/0.5")
    assert prices.cost("glm-4-plus", usage) == pytest.approx((1_000 * 5 + 3_000 * 10) / 1e6)
    assert prices.cost("glm-4-plus", usage, batch=True) == pytest.approx(prices.cost("glm-4-plus", usage) / 2)
    prices.set_price("glm-4-plus", 1, 1)
    try:
        assert prices.cost("glm-4-plus", usage) == pytest.approx(4_000 / 1e6)
    finally:
        prices.forget_prices()
    assert query.parse_since("2026-03-13") == "2026-03-13"
    with pytest.raises(ValueError):
        query.parse_since("last tuesday")


def test_a_version_2_log_gains_the_extra_column_and_keeps_its_rows(make, tmp_path):
    """Migration 3 adds ``extra`` (sources, tool cards) to a log written before it existed."""
    path = tmp_path / db.FILENAME
    old = sqlite3.connect(path, isolation_level=None)
    columns = ", ".join(f"{c} {db.column_type(c)}" for c in records.COLUMNS if c != "extra")
    old.execute(f"CREATE TABLE calls (id INTEGER PRIMARY KEY, {columns})")
    db.MIGRATIONS[1](old)
    old.execute("PRAGMA user_version = 2")
    old.execute("INSERT INTO calls (model, answer, status, request_hash) VALUES ('m', 'old', 'ok', 'h')")
    old.close()
    book = db.Ledger(path)
    answer, body = answered(make, "Tell me about owls")
    answer.sources = [{"title": "Owls", "link": "https://example.org/owls"}]
    answer.tool_runs = [
        {"id": "c1", "function": {"name": "add"}, "args": {"a": 1}, "result": "2", "value": 2}
    ]
    row = records.make_record(answer, body, kind="tools", backend="local")
    got = query.one(book, book.add(row))
    extra = records.extra_in(got)
    assert extra["sources"] == answer.sources and extra["tool_runs"][0]["result"] == "2"
    assert "value" not in extra["tool_runs"][0]  # a Python value is not for the log
    assert query.one(book, 1)["answer"] == "old" and records.extra_in(query.one(book, 1)) == {}
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION == 4
    digest = row["request_hash"]
    assert query.find_answer(book, digest)["id"] == got["id"]
    assert query.find_answer(book, digest, kinds=("video",)) is None
    assert query.find_answer(book, digest, kinds=("video", "tools"))["id"] == got["id"]
