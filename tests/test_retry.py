"""The pure retry policy, with an injected clock, rng and sleep (no real waiting)."""

from __future__ import annotations

import email.utils

import pytest

from zhipu_magic.api import retry
from zhipu_magic.api.retry import backoff, parse_retry_after, retry_delay, should_retry, sliced_sleep

NOW = 1_800_000_000.0


def clock() -> float:
    return NOW


@pytest.mark.parametrize("code", ["1302", "1303", "1305", "1312", None])
def test_429_with_rate_code_or_none_is_retried(code: str | None) -> None:
    assert should_retry(429, code)


@pytest.mark.parametrize("code", ["1112", "1113", "1121", "1304", "1308", "1309", "1310", "1313"])
def test_quota_and_account_codes_never_retried(code: str) -> None:
    assert not should_retry(429, code)


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "1211"), (400, "1214"), (400, "1210"), (400, "1261"), (400, "1301"), (401, "1000"),
     (401, "1002"), (401, None), (404, None), (400, None), (403, None), (200, None)],
)  # fmt: skip
def test_client_errors_never_retried(status: int, code: str | None) -> None:
    assert not should_retry(status, code)


@pytest.mark.parametrize("status", [408, 500, 501, 502, 503, 504])
def test_transient_statuses_retried(status: int) -> None:
    assert should_retry(status)


def test_code_beats_status() -> None:
    assert should_retry(400, "1302")  # a rate code wins even on an odd status
    assert not should_retry(500, "1113")
    assert should_retry(500, "500") and should_retry(503, "1234")


def test_connection_errors_retried_only_before_send() -> None:
    assert should_retry(None, connect_error=True)
    assert not should_retry(None)


def test_retry_after_seconds_and_ms() -> None:
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "Retry-After": "9"}) == 0.25
    assert parse_retry_after({"Retry-After-Ms": "3600000"}) == 3600.0
    assert parse_retry_after({}) is None and parse_retry_after(None) is None


def test_retry_after_http_date() -> None:
    future = email.utils.formatdate(NOW + 3600, usegmt=True)
    assert parse_retry_after({"Retry-After": future}, clock=clock) == pytest.approx(3600, abs=1)
    past = email.utils.formatdate(NOW - 10, usegmt=True)
    assert parse_retry_after({"Retry-After": past}, clock=clock) is None


@pytest.mark.parametrize("value", ["abc", "-5", "0", "inf", "nan", "-inf", "", "1e999", "Mon, 99 Foo"])
def test_malformed_retry_after_ignored(value: str) -> None:
    assert parse_retry_after({"Retry-After": value}, clock=clock) is None
    assert parse_retry_after({"retry-after-ms": value}, clock=clock) is None


def test_malformed_ms_falls_back_to_seconds() -> None:
    assert parse_retry_after({"retry-after-ms": "nan", "Retry-After": "3"}) == 3.0


def test_backoff_grows_and_is_capped_with_jitter() -> None:
    assert [backoff(n, lambda: 0.999999) for n in range(6)] == pytest.approx([0.5, 1, 2, 4, 8, 8], rel=1e-5)
    assert [backoff(n, lambda: 0.0) for n in range(3)] == pytest.approx([0.375, 0.75, 1.5])
    assert backoff(50, lambda: 0.5) == pytest.approx(8 * 0.875)


def test_retry_delay_prefers_server_then_backoff() -> None:
    assert retry_delay(0, {"Retry-After": "2"}, clock=clock, rng=lambda: 0.0) == (2.0, True)
    assert retry_delay(1, {"Retry-After": "abc"}, clock=clock, rng=lambda: 0.0) == (0.75, False)
    assert retry_delay(2, None, rng=lambda: 1.0) == (2.0, False)


def test_sliced_sleep_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    slices: list[float] = []

    def fake_sleep(s: float) -> None:
        slices.append(s)
        now[0] += s

    monkeypatch.setattr(retry.time, "monotonic", lambda: now[0])
    sliced_sleep(0.35, sleep=fake_sleep)
    assert sum(slices) == pytest.approx(0.35)
    assert max(slices) <= retry.SLEEP_SLICE + 1e-9
    assert len(slices) == 4


def test_sliced_sleep_lets_interrupt_through(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def interrupting(s: float) -> None:
        calls.append(s)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sliced_sleep(30, sleep=interrupting)
    assert calls == [retry.SLEEP_SLICE]
