"""THE table of the platform's business codes: what each means, whether waiting helps, what to do.

The platform answers "slow down" (1302) and "out of money" (1113) with the same HTTP 429, so the
business code decides, and the HTTP status is only the fallback. Both the error classes
(:func:`zhipu_magic.api.errors.error_class`) and the retry policy
(:func:`zhipu_magic.api.retry.should_retry`) read this one table, so they cannot drift apart.

Hints are neutral (they suit any caller of the HTTP client); the notebook layer words some of them
for notebook users (``%glm login``, ``%glm models``).
"""

from __future__ import annotations

from typing import NamedTuple

# Kinds: each maps to one error class in errors.py.
AUTH = "auth"
BAD_REQUEST = "bad_request"
CONTENT_FILTER = "content_filter"
RATE = "rate"
QUOTA = "quota"
SERVER = "server"

#: Kinds where another attempt after a pause may succeed.
RETRYABLE_KINDS = frozenset({RATE, SERVER})

KEY_HINT = "check the API key (ZHIPUAI_API_KEY); keys are region-bound: open.bigmodel.cn vs api.z.ai"


class Code(NamedTuple):
    """One row of the table."""

    kind: str
    hint: str

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS


CODES: dict[str, Code] = {
    "500": Code(SERVER, ""),
    "1000": Code(AUTH, KEY_HINT),
    "1001": Code(AUTH, "no API key was sent; set ZHIPUAI_API_KEY"),
    "1002": Code(AUTH, KEY_HINT),
    "1003": Code(AUTH, "the token expired; run the call again"),
    "1004": Code(AUTH, KEY_HINT),
    "1005": Code(AUTH, KEY_HINT),
    "1100": Code(QUOTA, ""),
    "1110": Code(QUOTA, ""),
    "1111": Code(QUOTA, ""),
    "1112": Code(QUOTA, "the account is locked; contact Zhipu support"),
    "1113": Code(
        QUOTA,
        "top up the balance or buy a resource package in the console "
        "(a coding-plan key only works on the coding-plan base URL)",
    ),
    "1121": Code(QUOTA, "the account is locked for irregular activity; contact Zhipu support"),
    "1211": Code(BAD_REQUEST, "check the model name against the model list"),
    "1212": Code(BAD_REQUEST, "this model does not support this call (stream / async); pick another model"),
    "1213": Code(BAD_REQUEST, "a required parameter is missing"),
    "1214": Code(BAD_REQUEST, "a parameter value is invalid; check the options"),
    "1215": Code(BAD_REQUEST, "two parameters exclude each other; drop one"),
    "1234": Code(SERVER, ""),
    "1261": Code(BAD_REQUEST, "the prompt is too long; shorten it or reset the conversation"),
    "1300": Code(BAD_REQUEST, ""),
    "1301": Code(CONTENT_FILTER, ""),
    "1302": Code(RATE, "too many concurrent requests; wait and try again"),
    "1303": Code(RATE, "too many requests per minute; wait and try again"),
    "1304": Code(QUOTA, "the daily call quota is used up; try again tomorrow or use another model"),
    "1305": Code(RATE, "the model is overloaded; wait and try again, or use another model"),
    "1308": Code(QUOTA, "a usage cap was reached; wait for it to reset"),
    "1309": Code(QUOTA, "the GLM Coding Plan expired; renew it"),
    "1310": Code(QUOTA, "the weekly / monthly cap was reached; wait for it to reset"),
    "1311": Code(QUOTA, "your plan does not include this model; pick another"),
    "1312": Code(RATE, "the model is busy; wait and try again, or use another model"),
    "1313": Code(QUOTA, "the account is rate-restricted for fair-use reasons; contact support"),
}

_PARAMETER_FAMILY = Code(BAD_REQUEST, "")  # 12xx codes not listed: all about the request itself


def lookup(code: str | int | None) -> Code | None:
    """The row for a business code (any 12xx counts as a bad request), or None when unknown."""
    if code is None or code == "":
        return None
    code = str(code)
    found = CODES.get(code)
    if found is None and code.startswith("12"):
        return _PARAMETER_FAMILY
    return found
