"""``map``: prompts over data against the package's local server over real HTTP.

Alignment and order, per-row errors, AIMD under a server that refuses above N requests in flight,
a quota stop, resume from the call log (counted at the server), interrupt, and the live progress.
"""

from __future__ import annotations

import threading
import time

import pytest

from zhipu_magic.core.mapping import NOT_RUN, MapResult, RowError, map_rows
from zhipu_magic.server import LocalServer
from zhipu_magic.server import handler as server_handler
from zhipu_magic.server.chat import completions
from zhipu_magic.server.checks import Fail


def chats(srv) -> list[dict]:
    return [r.body for r in srv.requests if r.path.endswith("/chat/completions")]


# -- alignment ----------------------------------------------------------------------------------
def test_list_of_values_comes_back_aligned_and_in_order(server, make):
    values = [f"row {i}" for i in range(40)]
    result = map_rows("echo: {}", values, client=make(), concurrency=8)
    assert isinstance(result, MapResult)
    assert list(result) == values
    assert result.totals["done"] == 40 and result.totals["failed"] == 0
    assert all(i.usage and i.usage["completion_tokens"] > 0 for i in result.info)
    assert result.totals["completion_tokens"] == sum(i.usage["completion_tokens"] for i in result.info)
    assert len(chats(server)) == 40


def test_list_of_dicts_fills_fields_and_value_names_plain_rows(server, make):
    rows = [{"name": "Ada", "n": 1}, {"name": "Lin", "n": 2}]
    assert map_rows("echo: {name} has {n}", rows, client=make()) == ["Ada has 1", "Lin has 2"]
    assert map_rows("echo: <{value}>", [3, 4], client=make()) == ["<3>", "<4>"]
    # nothing evaluated: an expression in braces stays as typed
    assert map_rows("echo: {name.upper()} {name}", rows[:1], client=make()) == ["{name.upper()} Ada"]


def test_a_template_naming_nothing_gets_the_row_appended(server, make):
    map_rows("Classify this:", ["apples"], client=make())
    assert chats(server)[-1]["messages"][-1]["content"] == "Classify this:\n\napples"


def test_dataframe_gives_a_series_on_the_same_index(server, make):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"city": ["Paris", "Oslo", "Lima"], "n": [1, 2, 3]}, index=["a", "b", "c"])
    out = map_rows("echo: {city}-{n}", df, client=make(), system="terse")
    assert isinstance(out, pd.Series) and list(out.index) == ["a", "b", "c"]
    assert out.tolist() == ["Paris-1", "Oslo-2", "Lima-3"]
    assert out.attrs["glm_map"].totals["done"] == 3
    assert chats(server)[0]["messages"][0] == {"role": "system", "content": "terse"}
    series = pd.Series(["x", "y"], index=[10, 20], name="letters")
    got = map_rows("echo: {}", series, client=make())
    assert got.to_dict() == {10: "x", 20: "y"} and got.name == "letters"


def test_json_rows_are_parsed(server, make):
    out = map_rows("Give JSON with keys name and age for {}", ["a", "b"], client=make(), json=True)
    assert all(isinstance(o, dict) and set(o) == {"name", "age"} for o in out)
    assert chats(server)[0]["response_format"] == {"type": "json_object"}
    text = {"type": "text"}  # the server answers text: the row says it is not JSON
    bad = map_rows("echo: not json {}", ["x"], client=make(), json=True, response_format=text)
    assert isinstance(bad[0], RowError) and bad[0].kind == "json"


# -- errors ---------------------------------------------------------------------------------------
def test_a_failing_row_is_a_value_and_the_rest_is_answered(server, make):
    values = ["a", "[[fault:bad_param]] b", "c", "[[fault:filter]] d", "e"]
    out = map_rows("echo: {}", values, client=make())
    assert [out[0], out[2], out[4]] == ["a", "c", "e"]
    assert isinstance(out[1], RowError) and out[1].code == "1214" and out[1].status == 400
    assert out[3].kind == "ContentFilterError" and not out[3]
    assert set(out.errors) == {1, 3}
    assert out.totals["failed"] == 2 and out.stopped is None
    assert "2 failed" in out.summary()


def test_quota_stops_the_run_and_keeps_what_was_done(server, make):
    values = [f"r{i}" for i in range(5)] + ["[[fault:balance]] r5"] + [f"r{i}" for i in range(6, 12)]
    out = map_rows("echo: {}", values, client=make(), concurrency=1)
    assert out[:5] == ["r0", "r1", "r2", "r3", "r4"]
    assert out.stopped and out.stopped.startswith("quota") and "1113" in out.stopped
    assert all(isinstance(v, RowError) and v.kind == NOT_RUN for v in out[5:])
    assert out.totals["not_run"] == 7 and out.totals["failed"] == 0
    assert len(chats(server)) == 6  # nothing sent after the quota answer


# -- resume ---------------------------------------------------------------------------------------
def test_rerun_sends_only_the_rows_not_in_the_call_log(server, make):
    values = [f"item {i}" for i in range(10)]
    first = map_rows("echo: {}", values[:6], client=make())
    assert first.totals["from_record"] == 0 and len(chats(server)) == 6
    again = map_rows("echo: {}", values, client=make())
    assert list(again) == values
    assert again.totals["from_record"] == 6 and len(chats(server)) == 10  # 4 more, counted at the server
    assert "6 from the call log" in again.summary()
    assert [i.from_record for i in again.info] == [True] * 6 + [False] * 4
    third = map_rows("echo: {}", values, client=make(), temperature=0.5)  # another request: all sent
    assert third.totals["from_record"] == 0 and len(chats(server)) == 20


def test_failed_rows_are_sent_again_on_rerun(server, make):
    values = ["a", "[[fault:server_error:9]] b"]
    out = map_rows("echo: {}", values, client=make(max_retries=0))
    assert isinstance(out[1], RowError) and out[1].kind == "ServerError"
    again = map_rows("echo: {}", values, client=make(max_retries=0))
    assert again.totals["from_record"] == 1 and len(chats(server)) == 3


# -- AIMD -----------------------------------------------------------------------------------------
class CrowdedServer(LocalServer):
    """Answers chat after ``delay`` seconds and refuses (429/1302, ``retry-after-ms``) any request
    above ``limit`` in flight; counts what it served and refused."""

    def __init__(self, limit: int, delay: float) -> None:
        super().__init__(port=0)
        self.limit, self.delay = limit, delay
        self.in_flight = self.peak = self.refused = self.served = 0
        self.gate = threading.Lock()

    def crowded_chat(self, h, req) -> None:
        with self.gate:
            if self.in_flight >= self.limit:
                self.refused += 1
                raise Fail(429, "1302", "Too many concurrent requests", headers={"retry-after-ms": "30"})
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(self.delay)
            completions(h, req)
            self.served += 1
        finally:
            with self.gate:
                self.in_flight -= 1


@pytest.fixture
def crowded(monkeypatch):
    def chat(h, req):
        state = h.state
        return state.crowded_chat(h, req) if isinstance(state, CrowdedServer) else completions(h, req)

    routes = tuple(
        r._replace(fn=chat) if r.pattern == "chat/completions" else r for r in server_handler.ROUTES
    )
    monkeypatch.setattr(server_handler, "ROUTES", routes)
    with CrowdedServer(limit=4, delay=0.03) as srv:
        yield srv


def test_rate_limits_halve_the_concurrency_and_no_row_fails(crowded):
    client = crowded.client(max_retries=0)  # every 429 reaches map
    values = [f"v{i}" for i in range(120)]
    try:
        out = map_rows("echo: {}", values, client=client, concurrency=16)
    finally:
        client.close()
    assert list(out) == values and out.totals["failed"] == 0
    assert crowded.refused > 0 and crowded.served == 120
    assert out.totals["retries"] >= crowded.refused - 16  # rate-limited rows were asked again
    assert 1 <= out.concurrency <= 8, out.concurrency  # settled near the server's limit of 4
    assert crowded.refused < 120  # it backed off instead of hammering


# -- stop -----------------------------------------------------------------------------------------
def test_an_interrupt_returns_the_partial_result_marked(server, make):
    values = [f"q{i}" for i in range(4)] + [f"[[fault:slow_first:2]] s{i}" for i in range(4)]
    seen = []

    def progress(p):
        seen.append(p)
        if p.done >= 4 and not p.finished:
            raise KeyboardInterrupt

    started = time.monotonic()
    out = map_rows("echo: {}", values, client=make(), concurrency=4, progress=progress)
    assert time.monotonic() - started < 1.5  # did not wait for the slow rows
    assert out.stopped == "interrupted"
    assert out[:4] == ["q0", "q1", "q2", "q3"]
    assert all(isinstance(v, RowError) and v.kind == NOT_RUN for v in out[4:])
    assert seen[-1].finished and seen[-1].stopped == "interrupted"


def test_a_stop_event_set_from_another_thread_ends_the_run_marked_stopped(server, make):
    values = [f"q{i}" for i in range(3)] + [f"[[fault:slow_first:3]] s{i}" for i in range(6)]
    stop = threading.Event()
    reports = []
    threading.Timer(0.5, stop.set).start()  # a Stop button's click, on another thread
    started = time.monotonic()
    out = map_rows("echo: {}", values, client=make(), concurrency=3, progress=reports.append, stop=stop)
    assert time.monotonic() - started < 1.5  # within a tick of the click, not after the slow rows
    assert out.stopped == "stopped" and out[:3] == ["q0", "q1", "q2"]
    assert out.totals["not_run"] == 6 and "stopped (stopped)" in out.summary()
    assert reports[-1].finished and reports[-1].stopped == "stopped"
    again = map_rows("echo: {}", values[:3], client=make(), stop=threading.Event())
    assert again.stopped is None and again.totals["from_record"] == 3


def test_progress_reports_at_most_ten_times_a_second(server, make):
    values = [f"[[fault:slow_first:0.05]] p{i}" for i in range(30)]
    reports = []
    started = time.monotonic()
    map_rows("echo: {}", values, client=make(), concurrency=2, progress=reports.append)
    elapsed = time.monotonic() - started
    assert elapsed > 0.5
    assert 3 <= len(reports) <= 10 * elapsed + 2
    last = reports[-1]
    assert last.finished and last.done == 30 and last.total == 30 and last.in_flight == 0
    assert last.completion_tokens > 0 and last.rows_per_s > 0


def test_refuses_what_is_not_rows(make, server):
    with pytest.raises(TypeError):
        map_rows("x {}", "a string", client=make())
    with pytest.raises(ValueError):
        map_rows("  ", ["a"], client=make())
    with pytest.raises(ValueError, match="concurrency"):
        map_rows("echo: {}", ["a"], client=make(), concurrency=0)
    assert map_rows("echo: {}", [], client=make()) == [] and chats(server) == []


def test_a_failing_progress_display_does_not_end_the_run(server, make):
    def broken(p):
        raise RuntimeError("display gone")

    with pytest.warns(UserWarning, match="progress display failed"):
        out = map_rows("echo: {}", ["a", "b"], client=make(), progress=broken)
    assert out == ["a", "b"] and out.stopped is None


def test_a_labelled_prompt_over_rows_gets_the_named_labels_by_the_word_rule(server, make):
    import zhipu_magic
    from zhipu_magic.server.answers.labels import NEGATIVE, POSITIVE

    rows = ["I love it, great sound.", "Broken on arrival.", "It is blue.", "Never again, it cracked."]
    prompt = "Classify the sentiment as positive, negative or neutral. Answer with one word.\n\nText: {}"
    labels = zhipu_magic.map(prompt, rows, client=make(), concurrency=2, log=False)
    assert list(labels) == ["positive", "negative", "neutral", "negative"]
    for row, label in zip(rows, labels, strict=True):
        words = {w.strip(".,").lower() for w in row.split()}
        score = len(words & POSITIVE) - len(words & NEGATIVE)
        assert label == ("positive" if score > 0 else "negative" if score < 0 else "neutral")
    short = zhipu_magic.map("Summarise in two words.\n\nText: {}", rows, client=make(), log=False)
    assert list(short) == ["love great", "Broken arrival", "blue It", "Never again"]
