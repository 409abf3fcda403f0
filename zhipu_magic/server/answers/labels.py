"""Short answers over a text: a label, N words, and JSON values read from the text (``map`` prompts).

The local server cannot read, so it answers by tiny rules anyone can check, from the text the prompt
carries, and nothing else (no heading, emoji or Chinese label: a one-word answer is one word):

- A classification prompt that names its labels ("as positive, negative or neutral", "one of: a, b, c",
  "Answer with one word: yes or no", "Label it spam or ham") gets exactly one of those labels. For
  positive / negative / neutral, a word list: a text with more of :data:`POSITIVE` than of
  :data:`NEGATIVE` is positive, fewer is negative, else neutral. For other labels, the first label
  whose word is in the text, else one picked by the text's hash.
- "in three words", "answer with one word", "a one-word summary": exactly that many words of the text,
  its content words first, in order (fewer only when the text has fewer).
- The text: after a ``Review:`` / ``Text:`` ... line, else the block after a blank line, else a quoted
  passage, else the prompt's sentences that are not the instruction.

:func:`short_answer` is called by :mod:`.context`; :func:`carried_text`, :func:`sentiment` and
:func:`noun_of` also fill JSON values (:mod:`.json_keys`).
"""

from __future__ import annotations

import hashlib
import re


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


POSITIVE = _words(
    "great gorgeous good love loved loves lovely excellent perfect amazing fantastic wonderful happy best "
    "nice bright fast reliable recommend"
)
NEGATIVE = _words(
    "never cracked stopped late broken broke bad poor terrible awful worst slow hate hated disappointed "
    "disappointing refund useless faulty"
)
_STOP = _words(
    "a an the and or but if of to in on at for from by with about as into than then so too very it its "
    "it's is are was were be been being am do does did done has have had i me my we our you your he she "
    "they them their his her this that these those there here what which who whom when where why how "
    "not no just only also after before when while all any some each every can could would should will "
    "shall may might must"
)
# Words of the instruction itself, left out when the text is the whole prompt.
_ASKING = _words(
    "summarise summarize summary describe explain classify label tag answer reply respond give write say "
    "word words one two three four five six seven eight nine ten eleven twelve single please sentiment "
    "review text following"
)
_ONE_TO_TWELVE = "one two three four five six seven eight nine ten eleven twelve"
_NUMS = {w: i + 1 for i, w in enumerate(_ONE_TO_TWELVE.split(" "))}
_NUMS["a single"] = 1
_NUM = r"\d{1,2}|a single|" + "|".join(_NUMS)
_N_WORDS = re.compile(
    rf"\b(?:in|with|using|to)\s+(?:just\s+|only\s+|exactly\s+|at most\s+)?(?P<a>{_NUM})\s+words?\b"
    rf"|\b(?P<b>{_NUM})-word\b|\b(?P<c>{_NUM})\s+words?\s+(?:answer|reply|response|summary|label)\b",
    re.I,
)
_W = r"[\"'`“‘]?[A-Za-z][\w'-]{0,24}[\"'`”’]?"
_SEP = r"(?:\s*,\s*(?:or\s+)?|\s*/\s*|\s*\|\s*|\s+or\s+)"
_LIST = rf"(?P<list>{_W}(?:{_SEP}{_W}){{1,11}})"
# (pattern, whether the list must say "or" / "/"), tried in order.
_LABELED = (
    (re.compile(rf"\bone of\s*(?:the following|these)?\s*[:：]?\s*[\[(]?{_LIST}", re.I), False),
    (
        re.compile(
            rf"\b(?:one[- ]word|labels?|categor(?:y|ies)|class(?:es)?|options|choices|answer|reply|respond)\b"
            rf"[^:：\n.]{{0,30}}[:：]\s*[\[(]?{_LIST}",
            re.I,
        ),
        False,
    ),
    (re.compile(rf"\b(?:as|either|into|it|them|each)\s+(?:(?:a|an|either)\s+)?[\[(]?{_LIST}", re.I), True),
    (re.compile(rf"\((?P<list>{_W}(?:\s*/\s*{_W}){{1,11}})\)"), True),
)
_CUE = re.compile(
    r"\b(?:classify|classification|categori[sz]e|label|tag|sentiment|one[- ]word|one of|choose|pick"
    r"|(?:answer|reply|respond) with)\b",
    re.I,
)
_FIELD = re.compile(
    r"^[ \t]*(?:review|text|input|sentence|comment|message|e-?mail|tweet|post|document|passage|feedback"
    r"|headline|statement|content|description)[ \t]*[:：][ \t]*",
    re.I | re.M,
)
_END_FIELD = re.compile(
    r"^[ \t]*(?:answer|label|sentiment|category|output|summary)[ \t]*[:：][ \t]*$", re.I | re.M
)
_QUOTED = re.compile(r"“([^”]+)”|\"([^\"\n]+)\"|(?:^|(?<=\s))'([^'\n]+)'(?=[\s.,;:!?]|$)")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]|\d+(?:\.\d+)?")


def labels_in(prompt: str) -> list[str]:
    """The labels a classification prompt names, in its order (none: an empty list)."""
    if not _CUE.search(prompt):
        return []
    for rx, needs_or in _LABELED:
        for m in rx.finditer(prompt):
            listed = m.group("list")
            if needs_or and not re.search(r"\bor\b|/|\|", listed, re.I):
                continue
            words = [w.strip(" \"'`“”‘’") for w in re.split(_SEP, listed)]
            labels = list(dict.fromkeys(w for w in words if w))
            if len(labels) >= 2:
                return labels
    return []


def words_asked(prompt: str) -> int | None:
    """How many words the prompt asks for ("in three words", "one-word"), else ``None``."""
    m = _N_WORDS.search(prompt)
    if not m:
        return None
    word = (m.group("a") or m.group("b") or m.group("c")).lower()
    return max(1, min(20, int(word) if word.isdigit() else _NUMS.get(word, 1)))


def _is_instruction(part: str) -> bool:
    return bool(_CUE.search(part) or _N_WORDS.search(part) or labels_in(part))


def carried_text(prompt: str) -> str | None:
    """The text a prompt carries apart from its instruction: after a ``Review:`` (``Text:`` ...) line,
    else the blocks around a blank line that are not the instruction (else all but the first), else
    the longest quoted passage of two or more words; ``None`` when it carries none."""
    if m := _FIELD.search(prompt):
        rest = prompt[m.end() :]
        end = _END_FIELD.search(rest)
        text = (rest[: end.start()] if end else rest).strip()
        if text:
            return text
    blocks = [b.strip() for b in re.split(r"\n[ \t]*\n", prompt) if b.strip()]
    if len(blocks) > 1:
        said = [b for b in blocks if not _is_instruction(b)]
        said = said if said and len(said) < len(blocks) else blocks[1:]  # else the first is the ask
        return "\n\n".join(said)
    quoted = [next(g for g in q.groups() if g) for q in _QUOTED.finditer(prompt)]
    quoted = [q.strip() for q in quoted if len(q.split()) >= 2]
    return max(quoted, key=len) if quoted else None


def text_of(prompt: str) -> tuple[str, bool]:
    """The text being classified or summarised, and whether the prompt carried it apart (else it is
    the prompt's sentences that are not the instruction, or the whole prompt)."""
    carried = carried_text(prompt)
    if carried:
        return carried, True
    sentences = [s.strip() for s in re.split(r"(?<=[.!?。！？:：])\s+|\n+", prompt) if s.strip()]
    said = [s for s in sentences if not _is_instruction(s)]
    return (" ".join(said) if said else prompt.strip()), False


def content_words(text: str, asking: bool = False) -> list[str]:
    """The text's words that are not function words (nor, with ``asking``, the instruction's own
    words), in order, each once."""
    stop = _STOP | _ASKING if asking else _STOP
    seen: dict[str, str] = {}
    for word in _TOKEN.findall(text):
        low = word.lower()
        if low not in stop and low not in seen:
            seen[low] = word
    return list(seen.values())


def sentiment(text: str) -> str:
    """``positive`` / ``negative`` / ``neutral`` by the word lists: more positive words than negative
    ones is positive, fewer is negative, else neutral."""
    words = [w.lower() for w in _TOKEN.findall(text)]
    score = sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


def noun_of(text: str) -> str:
    """A noun-ish word of the text: its first content word that is not a sentiment word, a number or
    an -ed / -ly word (else its first content word, else ``it``), lower-cased."""
    words = content_words(text)
    for word in words:
        low = word.lower()
        if low in POSITIVE or low in NEGATIVE or low[0].isdigit() or re.search(r"(?:ed|ly)$", low):
            continue
        return low
    return words[0].lower() if words else "it"


def pick_label(labels: list[str], text: str) -> str:
    """One of ``labels`` for ``text``: the sentiment rule when they are positive / negative (/ neutral),
    else the first label whose word is in the text, else one picked by the text's hash."""
    lower = {label.lower(): label for label in labels}
    if "positive" in lower and "negative" in lower:
        mood = sentiment(text)
        if mood in lower:
            return lower[mood]
    for label in labels:
        if re.search(rf"\b{re.escape(label)}\b", text, re.I):
            return label
    digest = hashlib.sha256(text.strip().lower().encode("utf-8")).digest()
    return labels[digest[0] % len(labels)]


def short_answer(prompt: str) -> str | None:
    """A named label, or N words of the text (see the module docstring); ``None`` for other prompts."""
    labels = labels_in(prompt)
    if labels:
        return pick_label(labels, text_of(prompt)[0])
    n = words_asked(prompt)
    if n is None:
        return None
    text, apart = text_of(prompt)
    words = content_words(text if apart else _N_WORDS.sub(" ", text), asking=not apart)
    if len(words) < n and apart:  # a text apart: its function words too when its content words are few
        have = {w.lower() for w in words}
        words += list(dict.fromkeys(w for w in _TOKEN.findall(text) if w.lower() not in have))
    return " ".join(words[:n]) if words else None
