"""What the local server can say about the conversation it was sent, by simple deterministic patterns
(no pretence of understanding; every such answer quotes the turn it comes from):

- facts the user stated ("My name is Ada", "I live in Paris", "my favourite colour is green", "我叫小明")
  and questions about them ("What is my name?", "Where do I live?", "我叫什么？");
- questions about the conversation itself ("What did I ask first?");
- a reference to the last answer ("Which of those is best on a rainy day?" picks one of its items);
- a follow-up ("And one for a goldfish?" repeats the previous request for the new subject).

``earlier`` is the earlier user turns (oldest first), ``replies`` the earlier assistant answers.
"""

from __future__ import annotations

import hashlib
import re

from .intents import answer_for, intent_of, is_chinese

Fact = tuple[str, str]  # (value, the user turn that stated it)

_NAME = r"([A-Za-z][\w'-]*(?:\s+[A-Z][\w'-]*)?)"
_ZH_WORD = r"([\u4e00-\u9fffA-Za-z]{1,10}?)(?=[，。！？,.!?\s]|$)"
# (fact key, pattern; group 1 the value, or groups 1 and 2 the key and the value); first match wins.
_STATEMENTS = (
    ("name", rf"(?i:\bmy name is|\bcall me|\bi am called|\bi'm called)\s+{_NAME}"),
    ("name", r"\bI(?:'m| am)\s+([A-Z][a-z]+)(?=\s*(?:[.,!;]|$|\band\b))"),
    ("name", rf"我叫{_ZH_WORD}|我的名字(?:是|叫){_ZH_WORD}"),
    ("age", r"(?i:\bi(?:'m| am)\s+(\d{1,3})\s+(?:years?\s+old|y/?o)\b)|我今年(\d{1,3})岁"),
    ("home", r"(?i:\bi live in)\s+([A-Z][\w-]*(?:\s+[A-Z][\w-]*)*)|我住在([\u4e00-\u9fff]{1,10})"),
    ("", r"(?i:\bmy\s+((?:favou?rite\s+)?[a-z]+(?:'s [a-z]+)?)\s+is\s+([^.,;!?\n]{1,40}))"),
)
_QUESTIONS = (
    (
        "name",
        r"\bwhat(?:'s| is| was)\s+my\s+name\b|\bwho am i\b|\b(?:remember|know)\s+my\s+name\b"
        r"|我叫什么|我的名字是什么|我是谁",
    ),
    ("age", r"\bhow old am i\b|\bwhat(?:'s| is)\s+my\s+age\b|我(?:今年)?(?:几岁|多大)"),
    ("home", r"\bwhere do i live\b|\bwhere am i from\b|我住在哪"),
    ("", r"\bwhat(?:'s| is| was)\s+my\s+((?:favou?rite\s+)?[a-z]+(?:'s [a-z]+)?)\s*\??$"),
)
_SAY = {
    "name": ("Your name is **{v}**.", "你叫**{v}**。"),
    "age": ("You are **{v}** years old.", "你今年**{v}**岁。"),
    "home": ("You live in **{v}**.", "你住在**{v}**。"),
}
_LABEL = {
    "name": ("your name", "你的名字"),
    "age": ("your age", "你的年龄"),
    "home": ("where you live", "你住在哪里"),
}
_RECALL = re.compile(
    r"\bwhat did i (?:just |first )?(?:say|ask|tell you|write)\b"
    r"|\bwhat (?:was|were) my (?:first |last |previous |earlier )?(?:question|message|request)s?\b"
    r"|\brepeat what i said\b|我(?:刚才|之前|第一次)?(?:说|问)了什么",
    re.I,
)
_REFERENCE = re.compile(
    r"\b(?:those|these|them|which one|the (?:first|second|third|last) one)\b"
    r"|\byou (?:listed|suggested|mentioned)\b|这些|那些|哪个|哪一个|上面",
    re.I,
)
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "last": -1, "第一": 0, "第二": 1, "第三": 2}
# A few words a question may carry, and words of an item that fit them (with the reason given).
_HINTS = (
    (
        r"rain|wet|indoor|inside|cold|下雨|雨天",
        r"museum|gallery|tea|café|cafe|lunch|indoor|library",
        "it keeps you dry",
    ),
    (
        r"sun|outdoor|outside|walk|hike|晴",
        r"walk|hike|park|water|lake|viewpoint|garden",
        "it gets you outside",
    ),
    (r"food|eat|hungry|dinner|lunch|吃", r"lunch|market|snack|food|tea|restaurant|dinner", "there is food"),
    (r"kid|child|family|孩子", r"museum|park|market|walk|zoo", "it suits a family"),
)
_FOLLOW_UP = re.compile(r"^(?:and|what about|how about|same (?:for|with)|now)\b", re.I)
_PREP_PHRASE = (
    r"\b(for|about|of|on|in)\s+"
    r"(?!(?:a |an |the )?(?:table|list|bullet|sentences?|lines?|json|words?|paragraphs?|form)\b)([^.?!,;\n]+)"
)


def quote(text: str, limit: int = 80) -> str:
    """One line of ``text`` in quotation marks, cut to ``limit`` characters."""
    line = " ".join(text.split())
    return f"“{line[: limit - 1] + '…' if len(line) > limit else line}”"


def fact_key(words: str) -> str:
    """A fact's key: "Favorite Color" and "favourite colour" are the same fact."""
    return " ".join(words.lower().split()).replace("favorite", "favourite").replace("colour", "color")


def facts(turns: tuple[str, ...] | list[str]) -> dict[str, Fact]:
    """What the user said about themselves, the latest statement of each fact winning."""
    out: dict[str, Fact] = {}
    for turn in turns:
        found: dict[str, Fact] = {}
        for key, rx in _STATEMENTS:
            for m in re.finditer(rx, turn):
                groups = [g for g in m.groups() if g]
                name, value = (key, groups[0]) if key else (fact_key(groups[0]), groups[1])
                if re.search(r"什么|谁|哪|多少|几|^(?:what|who|where|how)\b", value, re.I):
                    continue  # a question ("我叫什么？"), not a statement
                found.setdefault(name, (value.strip(), turn))
        out.update(found)
    return out


def _asked_fact(prompt: str) -> tuple[str, str] | None:
    """(fact key, how to name it) when the prompt asks about a fact of the user."""
    for key, rx in _QUESTIONS:
        if m := re.search(rx, prompt.strip(), re.I):
            name = key or fact_key(m.group(1))
            return name, key or f"your {name}"
    return None


def fact_answer(prompt: str, earlier: tuple[str, ...]) -> str | None:
    """The answer to "What is my name?" from what earlier turns said, or an honest "you did not say"."""
    asked = _asked_fact(prompt)
    if asked is None:
        return None
    key, label = asked
    zh = is_chinese(prompt)
    known = facts([*earlier, prompt]).get(key)
    if known:
        value, turn = known
        said = _SAY.get(key, (f"Your {key} is **{{v}}**.", f"你的{key}是**{{v}}**。"))[zh].format(v=value)
        return said + (f"你之前说过：{quote(turn)}" if zh else f" You told me earlier: {quote(turn)}")
    label = _LABEL.get(key, (label, label))[zh]
    if zh:
        return (
            f"我不知道{label}：在这段对话里你还没有告诉我"
            f"（本地服务器只看到随请求发来的 {len(earlier)} 条之前的消息）。"
        )
    turns = f"{len(earlier)} earlier user turn{'' if len(earlier) == 1 else 's'}"
    return (
        f"I don't know {label}: you haven't told me in this conversation. The local server only knows the "
        f"messages sent with the request ({turns})."
    )


def statement_answer(prompt: str) -> str | None:
    """ "My name is Ada." alone: an acknowledgement of what was noted."""
    if "?" in prompt or len(prompt) > 120 or intent_of(prompt) != "generic":
        return None
    said = facts([prompt])
    if not said:
        return None
    zh = is_chinese(prompt)
    parts = [
        _SAY.get(k, (f"Your {k} is **{{v}}**.", f"你的{k}是**{{v}}**。"))[zh].format(v=v)
        for k, (v, _) in said.items()
    ]
    if zh:
        return "好的，记下了：" + "".join(parts) + " 👋 在同一段对话里再问我，我会从你发来的消息里找到它。"
    hello = f"Nice to meet you, {said['name'][0]}! 👋 " if "name" in said else "Noted! "
    return (
        hello
        + " ".join(parts)
        + " Ask me later in this conversation and I will find it in the messages you send."
    )


def conversation_answer(prompt: str, earlier: tuple[str, ...]) -> str | None:
    """ "What did I ask first?": the earlier turns, quoted."""
    if not _RECALL.search(prompt):
        return None
    if not earlier:
        return "This is the first message of the conversation: there is nothing earlier to quote."
    if re.search(r"\bfirst\b|第一", prompt, re.I):
        return f"You first asked: {quote(earlier[0])}"
    text = f"You said earlier: {quote(earlier[-1])}"
    if len(earlier) > 1:
        listed = "\n".join(f"{i + 1}. {quote(t)}" for i, t in enumerate(earlier))
        text += f"\n\nAll {len(earlier)} of your earlier messages:\n\n{listed}"
    return text


def list_items(text: str) -> list[str]:
    """The items of the Markdown lists in ``text`` (without markers and bold)."""
    items = re.findall(r"^\s*(?:\d+[.)]|[-*•])\s+(.+?)\s*$", text, re.M)
    return [re.sub(r"\*\*(.+?)\*\*", r"\1", item) for item in items]


def _pick(prompt: str, items: list[str]) -> tuple[int, str]:
    """(index, reason): an ordinal if named, else the item that best fits the prompt's words."""
    low = prompt.lower()
    for word, i in _ORDINALS.items():
        if re.search(rf"\b{word}\b" if word.isascii() else word, low):
            return i % len(items), f"you asked for the {word} one" if word.isascii() else "你指定了这一项"
    words = set(re.findall(r"[a-z]{4,}", low))
    scores = [len(words & set(re.findall(r"[a-z]{4,}", item.lower()))) for item in items]
    reason = ""
    for asked, fits, why in _HINTS:
        if re.search(asked, low):
            scores = [
                s + 2 * bool(re.search(fits, item, re.I)) for s, item in zip(scores, items, strict=True)
            ]
            reason = why
    best = [i for i, s in enumerate(scores) if s == max(scores)]
    i = best[hashlib.sha256(prompt.encode()).digest()[0] % len(best)]
    return i, reason if max(scores) else ""


def reference_answer(prompt: str, replies: tuple[str, ...]) -> str | None:
    """ "Which of those...?": one item of the last answer's list, and the list it came from."""
    if not replies or not _REFERENCE.search(prompt):
        return None
    items = list_items(replies[-1])
    if not items:
        return None
    i, reason = _pick(prompt, items)
    listed = "\n".join(f"{n + 1}. {item}" for n, item in enumerate(items))
    if is_chinese(prompt):
        return f"在我上次列出的 {len(items)} 项里，我选：**{items[i]}**。\n\n上次的列表：\n\n{listed}"
    why = (
        f", because {reason}"
        if reason
        else " (picked by a simple word match: the local server does not weigh them)"
    )
    pick = f"Of the {len(items)} I listed in my last answer, I'd pick **{items[i]}**{why}."
    return f"{pick}\n\nMy last list:\n\n{listed}"


def follow_up_answer(prompt: str, earlier: tuple[str, ...], model: str) -> str | None:
    """ "And one for a goldfish?": the previous request again, with the new subject."""
    if not earlier or len(prompt) > 80 or not _FOLLOW_UP.search(prompt.strip()):
        return None
    previous = next((t for t in reversed(earlier) if not _FOLLOW_UP.search(t.strip())), earlier[-1])
    rest = re.sub(_FOLLOW_UP.pattern + r"\s*(?:(?:one|some|the same|it)\s+)?", "", prompt.strip(), flags=re.I)
    m = re.match(r"(for|about|of|on|in|with)\s+(.+)$", rest.rstrip(" ?.!。？！"), re.I)
    subject = m.group(2) if m else rest.rstrip(" ?.!。？！")
    spots = list(re.finditer(_PREP_PHRASE, previous, re.I))
    if not subject or not spots:
        return None
    spot = spots[-1]
    prep = m.group(1) if m else spot.group(1)
    request = previous[: spot.start()] + f"{prep} {subject}" + previous[spot.end() :]
    lead = f"Same request as before ({quote(previous)}), now {prep} {subject}:"
    return f"{lead}\n\n{answer_for(request, model=model)}"
