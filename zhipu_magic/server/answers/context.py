"""The local server's answer in view of the whole request it received, not only its last message.

- The earlier turns: facts the user stated are recalled, references and follow-ups resolved, and the
  earlier turn quoted (:mod:`.recall`); every later turn ends with a note quoting what came before.
- The system prompt: acknowledged in a closing note, and simple ones obeyed: terse / one sentence (the
  first sentence of the answer), "answer in French / Chinese ..." (a one-line lead in that language,
  honest about how little the server speaks it), a pirate (Arr!).
- JSON mode: an object with exactly the keys the prompt (or the system prompt) names (:mod:`.json_keys`).
- A long story is long: five paragraphs.
- Data, an error or images in the prompt: what arrived, read back (:mod:`.received`).
- A label the prompt names, or "in N words": that and nothing else, by a rule over the text it
  carries (:mod:`.labels`); JSON values read from that text too.

Deterministic: the same request gives the same answer. :mod:`.plan` builds a :class:`Talk` from the
messages and calls :func:`reply_for` or :func:`json_reply_for`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from . import recall
from . import templates as T
from .intents import answer_for, intent_of, is_chinese, json_answer_for
from .json_keys import keyed_json, requested_keys
from .labels import carried_text, short_answer
from .received import received_answer


@dataclass(frozen=True)
class Talk:
    """One chat request as the answers see it (directives already stripped from user turns)."""

    prompt: str  # the last user message
    earlier: tuple[str, ...] = ()  # the user messages before it, oldest first
    replies: tuple[str, ...] = ()  # the assistant messages, oldest first
    system: str = ""  # the system messages, joined
    images: tuple[Any, ...] = ()  # the image_url parts of the last user message (vision models)

    @property
    def turn(self) -> int:
        return len(self.earlier) + 1


_TERSE = re.compile(
    r"\b(?:terse|concise|brief(?:ly)?|succinct|short answers?|one (?:sentence|line|word)|in a sentence)\b"
    r"|简洁|简短|一句话",
    re.I,
)
_LANGS = (
    (
        "fr",
        r"\bfrench\b|法语",
        "Voici ma réponse (le serveur local ne parle qu'un tout petit peu français) :",
    ),
    ("zh", r"\b(?:chinese|mandarin)\b|中文|汉语", "以下是回答（本地服务器只会一点点中文）："),
    ("es", r"\bspanish\b|西班牙语", "Esta es mi respuesta (el servidor local habla muy poco español):"),
    ("de", r"\bgerman\b|德语", "Hier ist meine Antwort (der lokale Server spricht kaum Deutsch):"),
    ("ja", r"\bjapanese\b|日语", "ローカルサーバーの回答です（日本語は少しだけ）："),
)
_IN_LANGUAGE = re.compile(
    r"\b(?:answer|reply|respond|speak|write|talk)\b[^.\n]{0,60}?\bin\s+(\w+)|用(\w{2})", re.I
)
_LONG = re.compile(r"\blong\b|长篇|长故事|很长")


def reply_for(talk: Talk, *, model: str) -> str:
    """The answer text: recall, reference or follow-up when the prompt is one, else the prompt's own
    answer (:func:`.intents.answer_for`); shaped by the system prompt; notes on the context last."""
    p = talk.prompt.strip()
    if p.lower().startswith("echo:"):
        return answer_for(p, model=model)
    received = received_answer(p, talk.images)  # data, an error or images: what arrived, not an opinion
    if received is None and (short := short_answer(p)) is not None:
        return short  # a named label or N words, and nothing else: no note, no heading
    text = (
        received
        or recall.fact_answer(p, talk.earlier)
        or recall.conversation_answer(p, talk.earlier)
        or recall.reference_answer(p, talk.replies)
        or recall.follow_up_answer(p, talk.earlier, model)
        or recall.statement_answer(p)
        or long_story(p)
        or answer_for(p, model=model)
    )
    return follow_system(text, talk.system) + notes(talk, text)


def json_reply_for(talk: Talk, *, model: str) -> str:
    """JSON mode: the keys the prompt (or else the system prompt) names, or the default object."""
    own = bool(requested_keys(talk.prompt))
    source = talk.prompt if own else talk.system
    text = carried_text(talk.prompt) or (None if own else talk.prompt.strip() or None)
    keyed = keyed_json(source, recall.facts([*talk.earlier, talk.prompt]), text)
    return keyed or json_answer_for(talk.prompt, model=model)


def long_story(prompt: str) -> str | None:
    """Five paragraphs for "a long story" (a story with a sentence count keeps that count)."""
    low = prompt.lower()
    if intent_of(prompt) != "story" or not _LONG.search(low) or re.search(r"\d|sentence|句", low):
        return None
    zh = is_chinese(prompt)
    m = re.search(r"关于(.+?)的", prompt) if zh else re.search(r"\babout\s+(.+?)[.!?]*$", prompt, re.I)
    s = m.group(1).strip() if m else ("一个好奇的小机器人" if zh else "a curious little robot")
    h = hashlib.sha256(prompt.strip().encode("utf-8")).digest()
    title = f"**长故事 · {s}** 📖" if zh else f"**A long story · 长故事: {s}** 📖"
    return "\n\n".join([title, *T.long_story(h, s, zh)])


def shorten(text: str) -> str:
    """The first sentence of the first paragraph of prose (no heading, title, code, table or math)."""
    for para in text.split("\n\n"):
        para = para.strip()
        if not para or para.startswith(("#", "```", "|", ">", "$$")):
            continue
        line = re.sub(r"^(?:\d+\.|[-*])\s+", "", para.splitlines()[0]).strip()
        if re.fullmatch(r"\*\*[^*]+\*\*\W{0,4}", line):  # a bold title such as "**Haiku: tea** 🌸"
            continue
        m = re.match(r"(.+?[.!?。！？])(?:\s|$)", line)
        return m.group(1) if m else line
    return text.strip().splitlines()[0] if text.strip() else text


def follow_system(text: str, system: str) -> str:
    """Obey the simple system prompts: terse / one sentence, a language, a pirate."""
    if not system.strip():
        return text
    if _TERSE.search(system):
        text = shorten(text)
    asked = _IN_LANGUAGE.search(system)
    wanted = (asked.group(1) or asked.group(2)) if asked else ""
    for code, rx, lead in _LANGS:
        if wanted and re.search(rx, wanted, re.I) and not (code == "zh" and is_chinese(text)):
            text = f"{lead}\n\n{text}"
    if re.search(r"\bpirate\b|海盗", system, re.I):
        text = f"Arr! ⚓\n\n{text}" if "\n" in text else f"Arr! ⚓ {text}"
    return text


def notes(talk: Talk, text: str) -> str:
    """A closing line on what shaped the answer: the system prompt followed, the earlier turns."""
    zh = is_chinese(talk.prompt)
    parts = []
    if talk.system.strip():
        said = recall.quote(talk.system)
        parts.append(f"（遵循系统提示：{said}）" if zh else f"(following the system prompt: {said})")
    if talk.earlier:
        first, last = recall.quote(talk.earlier[0]), recall.quote(talk.earlier[-1])
        if zh and last in text:
            line = f"第 {talk.turn} 轮对话"
        elif zh:
            line = f"第 {talk.turn} 轮对话；你第一次问的是：{first}"
            line += f"，上一轮：{last}" if talk.turn > 2 else ""
        elif last in text:
            line = f"Turn {talk.turn} of this conversation"
        elif talk.turn == 2:
            line = f"Turn 2 of this conversation; you said earlier: {last}"
        else:
            line = f"Turn {talk.turn} of this conversation; you first asked: {first}, and just before: {last}"
        parts.append(line)
    if not parts:
        return ""
    joined = " · ".join(parts)
    return f"\n\n_{joined}_" if not re.search(r"[_*`\\]", joined) else f"\n\n{joined}"
