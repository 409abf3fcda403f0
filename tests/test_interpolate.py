"""Interpolation: plain names and In/Out only; everything else literal; nothing evaluated."""

from __future__ import annotations

import os

import pytest

from zhipu_magic.core.interpolate import interpolate

NS = {
    "name": "Ada",
    "n": 3,
    "a": 1,
    "b": 2,
    "x": "X",
    "In": ["", "df.head()", "print(1)"],
    "Out": {2: 42},
    "os": os,
}


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Hello {name}, n={n}", "Hello Ada, n=3"),
        ("{x}{name}", "XAda"),
        ("code: {In[1]} -> {Out[2]}", "code: df.head() -> 42"),
        ("{In[7]} {Out[9]} {unknown}", "{In[7]} {Out[9]} {unknown}"),
        ("{{name}} is literal", "{name} is literal"),
        ("{os.environ[\"HOME\"]} {os.environ['X']}", "{os.environ[\"HOME\"]} {os.environ['X']}"),
        ("{name.upper()} {n + 1} {n!r} {n:>5}", "{name.upper()} {n + 1} {n!r} {n:>5}"),
        ('{"a": {"b": 1}}', '{"a": {"b": 1}}'),
        ("{k: v for k, v in d.items()} {1, 2}", "{k: v for k, v in d.items()} {1, 2}"),
        (
            r"\frac{a}{b} + x^{n} + y_{a} + \sqrt{x} + \binom{n+1}{b}",
            r"\frac{a}{b} + x^{n} + y_{a} + \sqrt{x} + \binom{n+1}{b}",
        ),
        ("def f():\n    return {}\n", "def f():\n    return {}\n"),
        ("{{ jinja }} and }} and {{", "{{ jinja }} and }} and {{"),
        ("no braces", "no braces"),
    ],
)
def test_interpolate(text, expected):
    assert interpolate(text, NS) == expected


def test_environ_never_evaluated(monkeypatch):
    monkeypatch.setenv("ZM_SECRET_PROBE", "s3cret")
    out = interpolate("{os.environ[ZM_SECRET_PROBE]} {os.environ}", NS)
    assert "s3cret" not in out


def test_value_formatting_uses_str():
    class Obj:
        def __str__(self) -> str:
            return "OBJ"

    assert interpolate("{o}", {"o": Obj()}) == "OBJ"
