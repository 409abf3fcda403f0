"""Error classification, one-line messages, hints, and IPython's short traceback."""

from __future__ import annotations

import json
import pickle

import pytest

from zhipu_magic.api.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    GLMError,
    IncompleteStreamError,
    MissingKeyError,
    NotFoundError,
    QuotaError,
    RateLimitError,
    ServerError,
    StreamError,
    error_from_response,
)
from zhipu_magic.notebook.hints import notebook_hint

JSON = {"Content-Type": "application/json; charset=UTF-8"}


def body(code: str, message: str, **extra: object) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}, **extra}).encode()


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (401, "1000", AuthenticationError),
        (401, "1002", AuthenticationError),
        (400, "1211", BadRequestError),
        (400, "1214", BadRequestError),
        (400, "1301", ContentFilterError),
        (429, "1302", RateLimitError),
        (429, "1305", RateLimitError),
        (429, "1113", QuotaError),
        (429, "1304", QuotaError),
        (429, "1308", QuotaError),
        (500, "500", ServerError),
        (503, "1234", ServerError),
        (404, "1222", NotFoundError),
    ],
)
def test_classification_by_code_then_status(status: int, code: str, cls: type[GLMError]) -> None:
    err = error_from_response(status, body(code, "msg"), JSON)
    assert type(err) is cls
    assert err.status == status and err.code == code and err.message == "msg"


@pytest.mark.parametrize(
    ("status", "cls"),
    [(401, AuthenticationError), (404, NotFoundError), (429, RateLimitError), (400, BadRequestError),
     (422, BadRequestError), (500, ServerError), (503, ServerError), (408, APITimeoutError)],
)  # fmt: skip
def test_classification_by_status_without_code(status: int, cls: type[GLMError]) -> None:
    assert type(error_from_response(status, b"", {})) is cls


def test_one_line_str_with_code_status_request_id() -> None:
    err = error_from_response(
        400, body("1211", "Unknown Model, please check the model code.", request_id="2026abc"), JSON
    )
    assert str(err) == "[1211] Unknown Model, please check the model code. (HTTP 400, request 2026abc)"
    assert "\n" not in str(err)
    assert err.request_id == "2026abc"
    assert "%glm" not in err.hint  # the HTTP client's hints are neutral; the notebook words its own
    assert "%glm models" in notebook_hint(err)


def test_integer_code_becomes_string_and_multiline_message_flattened() -> None:
    err = error_from_response(
        400, json.dumps({"error": {"code": 1214, "message": "bad\nparam"}}).encode(), JSON
    )
    assert err.code == "1214" and str(err) == "[1214] bad param (HTTP 400)"


def test_content_filter_list_kept() -> None:
    err = error_from_response(400, body("1301", "unsafe", contentFilter=[{"level": 1, "role": "user"}]), JSON)
    assert isinstance(err, ContentFilterError) and isinstance(err, BadRequestError)
    assert err.content_filter == [{"level": 1, "role": "user"}]


def test_hints() -> None:
    assert "top up the balance" in error_from_response(429, body("1113", "arrears"), JSON).hint
    assert "ZHIPUAI_API_KEY" in error_from_response(401, body("1000", "auth"), JSON).hint
    assert "%glm login" in notebook_hint(error_from_response(401, b"", {}))
    assert "tomorrow" in error_from_response(429, body("1304", "daily"), JSON).hint
    assert "ZHIPUAI_API_KEY" in MissingKeyError("no key").hint
    assert "%glm login" in notebook_hint(MissingKeyError("no key"))


def test_rate_limit_carries_retry_after() -> None:
    err = error_from_response(429, body("1302", "busy"), {**JSON, "Retry-After": "7"})
    assert isinstance(err, RateLimitError) and err.retry_after == 7.0


def test_html_proxy_page_shown_as_truncated_text() -> None:
    page = (
        "<html><head><title>502 Bad Gateway</title><style>body{color:red}</style>"
        "<script>alert(1)</script></head><body><center><h1>502 Bad Gateway</h1></center><hr>"
        "<center>nginx</center>" + "<p>filler &amp; more</p>" * 100 + "</body></html>"
    ).encode()
    err = error_from_response(502, page, {"Content-Type": "text/html"})
    assert isinstance(err, ServerError) and err.status == 502
    text = str(err)
    assert "<" not in text and "alert" not in text and "color:red" not in text
    assert text.startswith("HTTP 502 Bad Gateway: 502 Bad Gateway 502 Bad Gateway nginx")
    assert len(err.message) < 400 and err.message.endswith("…")


def test_plain_text_and_flat_json_bodies() -> None:
    assert "upstream exploded" in str(error_from_response(500, b"upstream exploded", {}))
    flat = error_from_response(400, b'{"code": 1210, "msg": "bad"}', JSON)
    assert flat.code == "1210" and flat.message == "bad"
    assert error_from_response(503, b"not json {", JSON).message.startswith("HTTP 503")


def test_render_traceback_one_or_two_lines() -> None:
    err = error_from_response(429, body("1113", "Insufficient balance"), JSON)
    lines = err._render_traceback_()
    assert lines == ["QuotaError: [1113] Insufficient balance (HTTP 429)", f"hint: {err.hint}"]
    assert GLMError("plain", hint="")._render_traceback_() == ["GLMError: plain"]


def test_hierarchy() -> None:
    assert issubclass(MissingKeyError, AuthenticationError)
    assert issubclass(APITimeoutError, APIConnectionError)
    assert issubclass(IncompleteStreamError, StreamError)
    for cls in (AuthenticationError, BadRequestError, NotFoundError, RateLimitError, QuotaError,
                ServerError, APIConnectionError, StreamError):  # fmt: skip
        assert issubclass(cls, GLMError) and issubclass(cls, Exception)


def test_partial_and_pickle_roundtrip() -> None:
    err = IncompleteStreamError("cut", partial="Hello wor")
    assert err.partial == "Hello wor" and GLMError("x").partial == ""
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is IncompleteStreamError and again.partial == "Hello wor" and str(again) == "cut"
    rate = pickle.loads(pickle.dumps(RateLimitError("slow", retry_after=3.0, status=429)))
    assert rate.retry_after == 3.0 and rate.status == 429


def test_render_traceback_does_not_repeat_the_hint() -> None:
    err = MissingKeyError(
        "no API key: set ZHIPUAI_API_KEY (or ZAI_API_KEY), or pass api_key=; nothing was sent"
    )
    assert err._render_traceback_() == [f"MissingKeyError: {err}"]
    assert len(BadRequestError("bad", status=400, code="1211")._render_traceback_()) == 2
