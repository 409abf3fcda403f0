"""JSON mode with named keys: "JSON with keys name, age and city", ``"name", "age"`` quoted,
``{"name": ..., "age": ...}``, "fields: a, b". The object has exactly those keys, with plausible
values chosen from the key's name (and from facts the user stated, such as their name). When the
prompt carries a text (a review after a blank line, ``Text: ...``), keys about it are read from it
(:mod:`.labels`): ``part`` / ``aspect`` / ``topic`` a noun-ish word of it, ``mood`` / ``sentiment`` its
word-list sentiment, ``keywords`` / ``tags`` its first content words.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from . import templates as T
from .labels import content_words, noun_of, sentiment
from .recall import fact_key

MAX_KEYS = 20
_IDENT = r"[A-Za-z_][\w-]{0,39}"
_LISTED = re.compile(
    r"\b(?:keys?|fields?|properties|attributes|columns)\b(?:\s+(?:named|called))?\s*[:：]?\s+(.+)",
    re.I | re.S,
)
_END = re.compile(r"[.;!?\n]|\s(?:for|about|describing|of|from|that|which|where|to|in|as)\s", re.I)
_SPLIT = re.compile(r",|、|，|\band\b|\bor\b|&|/")
_CITIES = ("Hangzhou", "Chengdu", "Paris", "Lisbon", "Kyoto", "Toronto")
_COUNTRIES = ("China", "France", "Portugal", "Japan", "Canada")
_COLORS = ("green", "blue", "orange", "purple")
_LISTS = {
    r"hobbies|interests": ("reading", "hiking", "tea tasting"),
    r"skills|languages": ("Python", "SQL", "Mandarin"),
    r"tags|keywords|labels": ("demo", "local", "glm"),
    r"ingredients": ("flour", "eggs", "milk"),
    r"steps|instructions": ("Read the question", "Try a small example", "Check the result"),
}


def requested_keys(prompt: str) -> list[str]:
    """The keys the prompt names, in its order (none: an empty list)."""
    template = re.findall(rf"[\"'`]({_IDENT})[\"'`]\s*:", prompt)
    if template:
        return _unique(template)
    if m := _LISTED.search(prompt):
        clause = _END.split(m.group(1), maxsplit=1)[0]
        keys = []
        for part in _SPLIT.split(clause):
            words = part.strip(" \"'`“”*").split()
            if not words:
                continue
            if len(words) != 1 or not re.fullmatch(_IDENT, words[0].strip("\"'`“”")):
                if keys:
                    break
                continue
            keys.append(words[0].strip("\"'`“”"))
        if keys:
            return _unique(keys)
    quoted = re.findall(rf"[\"'`“]({_IDENT})[\"'`”](?=\s*(?:,|、|，|\band\b|\bor\b))", prompt)
    last = re.findall(rf"(?:,|\band\b|\bor\b)\s*[\"'`“]({_IDENT})[\"'`”]", prompt)
    return _unique(quoted + last) if quoted and last else []


def _unique(keys: list[str]) -> list[str]:
    return list(dict.fromkeys(keys))[:MAX_KEYS]


def _w(words: str) -> str:
    """``words`` as whole parts of a snake_case key (``home_city`` has ``city``, ``capacity`` not)."""
    return rf"(?:^|_)(?:{words})s?(?:$|_)"


def _name(h: bytes, facts: dict[str, tuple[str, str]], prompt: str) -> str:
    if "name" in facts:
        return facts["name"][0]
    named = re.search(r"\b(?:named|called)\s+([A-Z][a-z]+)", prompt)
    return named.group(1) if named else str(T.pick(h, 12, T.NAMES))


def text_value(key: str, text: str) -> Any:
    """The value of ``key`` read from the text the prompt carries, or ``None`` for other keys."""
    if re.search(_w("part|component|aspect|feature|product|item|object|subject|topic|thing|entity"), key):
        return noun_of(text)
    if re.search(_w("mood|sentiment|tone|feeling|emotion|polarity|attitude"), key):
        return sentiment(text)
    if re.search(_w("keyword|tag"), key):
        return [w.lower() for w in content_words(text)[:3]]
    return None


def value_for(
    key: str, h: bytes, facts: dict[str, tuple[str, str]], prompt: str, text: str | None = None
) -> Any:
    """A plausible value for ``key``, from its name (the same key and prompt, the same value), or from
    the text the prompt carries (:func:`text_value`)."""
    k = key.lower().replace("-", "_")
    if text and (read := text_value(k, text)) is not None:
        return read
    n = h[len(k) % len(h)]
    person = _name(h, facts, prompt)
    fact = facts.get(fact_key(k.replace("_", " ")))
    home = facts["home"][0] if "home" in facts else None
    rules: tuple[tuple[str, Any], ...] = (
        (r"^(?:is|has|can)_|" + _w("active|enabled|valid|available|verified|done"), n % 2 == 0),
        (_w("e_?mail|email_address"), f"{person.lower()}@example.com"),
        (_w("age"), int(facts["age"][0]) if "age" in facts else 20 + n % 50),
        (_w("last_?name|surname|family_?name"), T.pick(h, 6, ("Lin", "Chen", "Silva", "Moreau"))),
        (_w("username|login|handle"), f"{person.lower()}{n}"),
        (_w("(?:first_|full_|display_)?name|author|user|person|owner|customer"), person),
        (_w("city|town|home|location|place|capital"), home or T.pick(h, 3, _CITIES)),
        (_w("country|nation"), T.pick(h, 4, _COUNTRIES)),
        (_w("colou?r|favou?rite_colou?r"), T.pick(h, 5, _COLORS)),
        (_w("phone|tel|mobile"), f"+86 571 {1000 + n * 7:04d} {2000 + n * 13:04d}"),
        (_w("url|link|website|homepage|image"), f"https://example.com/{k}"),
        (
            _w("date|birthday|dob|created(?:_at)?|updated(?:_at)?|day"),
            f"20{10 + n % 15}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        ),
        (_w("time|hour"), f"{8 + n % 10:02d}:{n % 4 * 15:02d}"),
        (_w("year"), 1990 + n % 35),
        (_w("price|cost|amount|salary|total|balance"), round(5 + n * 1.37, 2)),
        (_w("lat|latitude"), round(30.25 + n / 1000, 4)),
        (_w("lon|lng|longitude"), round(120.16 + n / 1000, 4)),
        (
            _w(
                "count|number|num|qty|quantity|size|rank|score|rating|level|stars|id|height|weight|length|capacity|population|pages|views"
            ),
            1 + n % 99,
        ),
        (_w("summary|description|bio|about|text|comment|note|reason|answer|content|message|explanation"), ""),
        (_w("title|topic|subject|headline"), ""),
    )
    if fact:
        return fact[0]
    for rx, value in rules:
        if re.search(rx, k):
            return value if value != "" else _prose(k, h, prompt)
    listed = next((v for rx, v in _LISTS.items() if re.search(rx, k)), None)
    if listed:
        return list(listed)
    if k.endswith("s") and len(k) > 3:
        return [f"{k[:-1]} {i + 1}" for i in range(3)]
    return f"example {k.replace('_', ' ')}"


def _prose(key: str, h: bytes, prompt: str) -> str:
    about = re.search(r"\babout\s+(.+?)(?:[.,;!?(]|\s+(?:as|in|with|using)\b|$)", prompt, re.I)
    topic = about.group(1).strip() if about else ""
    if re.search(r"title|topic|subject|headline", key):
        return T.cap(topic) if topic else "A local server demo"
    return T.sentences(h, topic or "this demo", 1, False)[0]


def keyed_json(prompt: str, facts: dict[str, tuple[str, str]], text: str | None = None) -> str | None:
    """A JSON object with exactly the keys the prompt names, or None when it names none; ``text``:
    the text the request carries, for the keys about it."""
    keys = requested_keys(prompt)
    if not keys:
        return None
    h = hashlib.sha256(prompt.strip().encode("utf-8")).digest()
    obj = {key: value_for(key, h, facts, prompt, text) for key in keys}
    return json.dumps(obj, ensure_ascii=False, indent=2)
