"""What a prompt asks for (a poem, a story, N items, a table, code, math, a translation...) and the
deterministic text that answers it, in Chinese for Chinese prompts. Pure functions of the prompt;
the wording lives in :mod:`.templates`, :mod:`.blocks` and :mod:`.translation`, the reply plan in
:mod:`.plan`."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from . import blocks, translation
from . import templates as T

_GREETING = re.compile(r"^(hi|hello|hey|hallo|hola|你好|您好|嗨)\b[\s!！.。?？]*$", re.IGNORECASE)
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")
_NUM = r"\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a couple of|a single"
_NUM_ZH = "一二两三四五六七八九十"
_NUM_WORDS = {w: i + 1 for i, w in enumerate(_NUM.split("|")[1:13])} | {"a couple of": 2, "a single": 1}
_NUM_WORDS |= {c: i + 1 for i, c in enumerate("一两三四五六七八九十")} | {"二": 2}
# What the user asks for, checked in this order (so "a three-sentence story" is a story, "explain a
# table" a table, "explain X in three bullet points" a list).
_INTENTS = (
    ("poem", r"\b(haiku|poem|poems|limerick|verse|sonnet|rhyme)\b|诗|俳句"),
    ("story", r"\b(story|stories|tale|fable)\b|故事"),
    ("translate", r"\btranslat\w*|翻译|译成"),
    ("table", r"\b(table|compare|comparison|versus|vs)\b|表格|对比|比较"),
    ("code", r"\b(code|function|python|script|snippet|program)\b|代码|程序|函数"),
    (
        "math",
        r"\b(math|maths|formula|equation|prove|proof|primes?|integral|derivative|calculate)\b"
        r"|数学|公式|质数|素数|证明|方程|\d\s*[+*/×^]\s*\d",
    ),
    ("sentences", r"\b(summar\w*|tl;?dr|sentences?|in one line)\b|一句话|两句话|总结|概括|摘要"),
    (
        "list",
        r"\b(list|bullets?|points|things|ideas|tips|reasons|ways|steps|examples|facts|suggest\w*"
        rf"|name (?:a|an|some|{_NUM})|top \d+)\b|列出|列举|几个|要点|建议|[{_NUM_ZH}\d]+\s*(?:个|条|点|种)",
    ),
    (
        "explain",
        r"\b(explain|what is|what are|what's|how does|how do|why|describe|define|meaning of)\b"
        r"|介绍|解释|什么是|是什么|为什么",
    ),
)
_LEAD = re.compile(
    r"^(?:(?:please|can you|could you|would you|kindly|now|ok|so)[\s,]+)*(?:i(?:'m| am) (?:planning|"
    r"thinking about|learning|working on|curious about|interested in)\s+)?(?:(?:write|tell|give|compose|"
    r"create|make|generate|draft|list|name|suggest|explain|describe|summari[sz]e|translate|show|share|"
    r"define|compare|prove|calculate|compute)\s+(?:me\s+|us\s+)?)?",
    re.IGNORECASE,
)
_FORM = (
    rf"(?:(?:a|an|the|some|{_NUM}|short|long|little|tiny|quick|simple|brief|funny|\w+-\w+|bullet|points?|"
    r"haiku|poem|limerick|story|tale|list|summary|explanation|table|function|code|snippet|facts?|things|"
    r"ideas|tips|reasons|ways|examples|items|names?)\s+)*"
)
_FORM_ONLY = re.compile(_FORM.replace(r")\s+)*", r")(?:\s+|$))*"), re.IGNORECASE)
_TAIL = re.compile(
    rf",.*$|\s+(?:as an?|in (?:{_NUM}|a|the form of)\b|in one line|with a|using|please)\b.*$", re.IGNORECASE
)


def _h(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def topic_of(prompt: str) -> str:
    line = next((ln.strip() for ln in prompt.splitlines() if ln.strip()), "your question")
    line = line.strip("#*`> ").rstrip("?？.。!！")
    return line[:57] + "..." if len(line) > 60 else line or "your question"


def is_chinese(text: str) -> bool:
    """Mostly Chinese: at least two CJK characters, and a third of the letters."""
    cjk = len(_CJK_RE.findall(text))
    return cjk >= 2 and cjk * 3 >= len(re.findall(r"[A-Za-z\u4e00-\u9fff]", text))


def intent_of(prompt: str) -> str:
    """The kind of answer the prompt asks for (``generic`` when nothing specific)."""
    low = prompt.lower()
    return next((name for name, rx in _INTENTS if re.search(rx, low)), "generic")


def _subject(prompt: str, default: str) -> str:
    """What the prompt is about: "Write a haiku about notebooks." -> "notebooks"."""
    text = re.sub(r"^(?:hi|hello|hey|你好|您好)[\s!！,，.。]+", "", prompt.strip(), flags=re.I)
    if is_chinese(text):
        if m := re.search(r"关于(.+?)的", text):
            return m.group(1)
        t = re.sub(r"^(?:请你?|帮我|给我|能不能|可以)", "", text.strip(" 。？！?!."))
        t = re.sub(
            rf"^(?:用[{_NUM_ZH}\d]+(?:句话|个要点|点|行)|写[{_NUM_ZH}]?[首篇个段]?|讲[{_NUM_ZH}]?个?|介绍一下|介绍"
            r"|解释一下|解释|说说|列出|列举|总结一下|总结|概括|翻译|什么是|比较|对比)+",
            "",
            t,
        )
        t = re.sub(rf"^[{_NUM_ZH}\d]+[个条点种首篇句]", "", t)
        t = re.sub(r"(?:是什么|吗|呢|的故事|的诗|的俳句|的小诗|的代码|的表格)?[。？！?!]*$", "", t)
        return t.strip() or default
    first = next((x for x in re.split(r"(?<=[.!?])\s+|\n", text) if x.strip()), "")
    t = _LEAD.sub("", first.strip().rstrip(".!?")).strip()
    t = _TAIL.sub("", t)
    t = re.sub(rf"^{_FORM}(?:about|on|of|for|regarding)\s+", "", t, flags=re.I)
    t = re.sub(
        r"^(?:what|how|why|who|where|when)(?:\s+(?:is|are|was|were|does|do|did))?\s+", "", t, flags=re.I
    )
    t = re.sub(r"\s+(?:is|are|works?|means?)$", "", t)
    t = re.sub(rf"^(?:{_NUM})\s+", "", t, flags=re.I).strip(" \"'“”")
    t = re.sub(r"^(A|An|The)\b", lambda m: m.group(1).lower(), t)
    if not t or _FORM_ONLY.fullmatch(t):
        return default
    return t[:57] + "..." if len(t) > 60 else t


def _count(low: str, nouns: str, default: int, cap: int = 12) -> int:
    """The number in front of one of ``nouns`` ("three bullet points", "5 facts", "两句话")."""
    m = re.search(rf"\b({_NUM})[\s-]+(?:[\w-]+\s+)?(?:{nouns})", low) or re.search(
        rf"([{_NUM_ZH}]|\d+)\s*(?:个|条|点|种|句|行|首)", low
    )
    if not m:
        return default
    word = m.group(1)
    n = int(word) if word.isdigit() else _NUM_WORDS.get(word, default)
    return max(1, min(cap, n))


def _known(low: str) -> tuple[str, ...] | None:
    return next((v for rx, v in T.KNOWN.items() if re.search(rx, low)), None)


def _poem_answer(low: str, h: bytes, s: str, zh: bool, emoji: str) -> str:
    form = (
        "haiku"
        if re.search(r"haiku|俳句", low)
        else "limerick"
        if re.search(r"limerick|打油诗", low)
        else "poem"
    )
    m = re.search(rf"\b({_NUM})[\s-]+lines?\b|([{_NUM_ZH}\d]+)\s*行", low)
    lines = _count(low, "lines?", 0) if m else None
    body = T.poem(h, s, form, lines, zh)
    label = {"haiku": ("Haiku", "俳句"), "limerick": ("Limerick", "打油诗")}.get(form, ("Poem", "小诗"))
    title = f"**{label[1]} · {s}** 🌸" if zh else f"**{label[0]} · {label[1]}: {s}** {emoji}"
    return f"{title}\n\n" + "  \n".join(body)


def _story_answer(low: str, h: bytes, s: str, zh: bool) -> str:
    n = _count(low, "sentences?", 7 if re.search(r"\blong\b|长", low) else 4)
    body = ("" if zh else " ").join(T.story(h, s, n, zh))
    return (f"**小故事 · {s}** 📖" if zh else "**A short story · 小故事** 📖") + f"\n\n{body}"


def _sentences_answer(p: str, low: str, h: bytes, s: str, zh: bool) -> str:
    n = 1 if re.search(r"in one line|一句话|tl;?dr", low) else _count(low, "sentences?", 2, cap=6)
    body = ("" if zh else " ").join(T.sentences(h, s, n, zh))
    return f"**{topic_of(p)}** · 摘要 📝\n\n{body}"


def _list_answer(p: str, low: str, h: bytes, s: str, zh: bool, emoji: str, explain: bool) -> str:
    known = _known(low)
    n = _count(low, r"bullet|points?|things|items|ideas|tips|reasons|ways|steps|examples|facts|\w+s\b", 3)
    marker = (lambda i: "- ") if "bullet" in low else (lambda i: f"{i + 1}. ")
    listed = "\n".join(marker(i) + item for i, item in enumerate(T.items(h, s, n, zh, known)))
    intro = T.sentences(h, s, 1, zh)[0] + "\n\n" if explain else ""
    # An explanation's heading restates the question ("What is a notebook"), a list's names the subject.
    heading = topic_of(p) if explain else s if zh else T.cap(s)
    return f"## {heading} {emoji}\n\n{intro}{listed}\n\n小结：以上 {n} 点，供你参考。"


def _table_answer(p: str, h: bytes, s: str, zh: bool) -> str:
    m = re.search(
        r"(?:compare|比较|对比)\s*(.+?)\s*(?:\band\b|\bwith\b|\bvs\.?|\bversus\b|\bto\b|和|与|跟)\s*"
        r"(.+?)(?:[,.?!，。？！]|\s+in\s+a\s+table|$)",
        p,
        re.I,
    ) or re.search(r"^(.+?)\s+(?:vs\.?|versus)\s+(.+?)[?.!]*$", p, re.I)
    if m:
        left, right = (x.strip()[:30] for x in m.groups())
        table, title = blocks.compare_table(h, left, right, zh), f"{left} vs {right}"
    else:
        table, title = blocks.facet_table(h, s, zh), T.cap(s)
    return f"## {title} 📊\n\n{table}\n\n{pick_zh(h)}"


def _math_answer(p: str, low: str, h: bytes, zh: bool, emoji: str) -> str:
    number = re.search(r"\b(\d{1,12})\b", p)
    arith = re.search(r"(\d{1,9})\s*([+*/×^])\s*(\d{1,9})", p)
    if number and re.search(r"prime|质数|素数", low):
        body = blocks.prime_math(int(number.group(1)), zh)
    elif arith:
        a, op, b = int(arith.group(1)), arith.group(2), int(arith.group(3))
        value = {"+": a + b, "*": a * b, "×": a * b, "^": a ** min(b, 64)}.get(op)
        if value is None:
            value = round(a / b, 6) if b else "\\text{undefined}"
        tex = {"*": "\\times", "×": "\\times", "/": "\\div"}.get(op, op)
        body = f"{'结果是' if zh else 'The result is'} ${value}$:\n\n$${a} {tex} {b} = {value}$$"
    elif re.search(r"prove|proof|证明", low):
        body = blocks.PROOF
    else:
        body = blocks.math_block(h)
    return f"## {'数学' if zh else 'Math'}: {topic_of(p)}\n\n{body}\n\n{pick_zh(h)} {emoji}"


def _translate_answer(p: str, low: str) -> str:
    quoted = re.search(r"[\"“「'](.+?)[\"”」']", p)
    after = re.search(r"[:：]\s*(.+)$", p, re.S)
    text = (quoted or after).group(1).strip() if (quoted or after) else ""
    if not text:
        text = re.sub(
            r"^.*?translate\s+(?:this\s+|the following\s+)?|\s+(?:into|to)\s+\w+[.!?]*$", "", p, flags=re.I
        )
    target = next((v for k, v in translation.LANGS.items() if re.search(rf"(?:into|to|成)\s*{k}", low)), None)
    target = target or (("en", "English") if is_chinese(text) else ("zh", "中文"))
    source = "中文" if is_chinese(text) else "English"
    rendered = translation.translate(text, target[0])
    return f"**Translation · 翻译** 🌐 ({source} → {target[1]})\n\n> {text}\n\n{rendered}"


def pick_zh(h: bytes) -> str:
    return str(T.pick(h, 1, T.ZH_NOTES))


def _generic(topic: str, h: bytes, zh: bool, emoji: str) -> str:
    if zh:
        picks = [T.ZH_POINTS[(h[2] + 3 * i) % len(T.ZH_POINTS)] for i in range(3)]
        head = f"你问到了**{topic}**。下面是本地 GLM 服务器给出的结构化回答。\n\n### 要点"
        sections = ("示例", "概览", "一点数学")
    else:
        picks = [T.POINTS[(h[2] + 3 * i) % len(T.POINTS)] for i in range(3)]
        head = f"You asked about **{topic}**. Here is a structured answer from the local GLM server."
        head += "\n\n### Key points"
        sections = ("Example", "Overview", "A little math")
    points = "\n".join(f"{i + 1}. {pt}" for i, pt in enumerate(picks))
    return (
        f"## {topic} {emoji}\n\n{head}\n\n{points}\n\n"
        f"### {sections[0]}\n\n{blocks.code_block(h, topic)}\n\n"
        f"### {sections[1]}\n\n{blocks.table(h)}\n\n"
        f"### {sections[2]}\n\n{blocks.math_block(h)}\n\n"
        + ("Have fun exploring! 🎉" if zh else f"{pick_zh(h)} 🎉")
    )


def answer_for(prompt: str, *, model: str, turn: int = 1, first_prompt: str = "", system: str = "") -> str:
    """The reply text for ``prompt``: exact for ``echo:``, short for greetings, else shaped by what the
    prompt asks for (a poem, a story, a list, N sentences, a table, code, math, a translation), in
    Chinese for Chinese prompts, and a full Markdown demo for anything else."""
    p = prompt.strip()
    low = p.lower()
    if low.startswith("echo:"):
        return p[5:].strip()
    h = _h(p)
    topic = topic_of(p)
    emoji = T.EMOJI[h[0] % len(T.EMOJI)]
    memory = ""
    if turn > 1 and first_prompt:
        memory = f"\n\n_Turn {turn} of this conversation; you first asked: “{topic_of(first_prompt)}”._"
    if _GREETING.match(p):
        return (
            f"Hello! 👋 I am the local stand-in for **{model}**. 你好！"
            "Ask me for code, a table or some math and I will show off a little." + memory
        )
    terse_words = ("one word", "terse", "briefly", "简短")
    if any(w in low for w in terse_words) or any(w in system.lower() for w in (*terse_words, "one sentence")):
        return f"{topic} — in short: it depends, but start simple. {emoji}" + memory
    zh = is_chinese(p)
    intent = intent_of(p)
    s = _subject(p, {"story": "a curious little robot", "poem": "the morning"}.get(intent, "this topic"))
    if zh and s == "this topic":
        s = "这个话题"
    if intent == "poem":
        text = _poem_answer(low, h, s, zh, emoji)
    elif intent == "story":
        text = _story_answer(low, h, s, zh)
    elif intent == "translate":
        text = _translate_answer(p, low)
    elif intent == "table":
        text = _table_answer(p, h, s, zh)
    elif intent == "code":
        head = (
            f"## 代码：{topic}\n\n下面是一个可以直接运行的小例子"
            if zh
            else f"## Code for: {topic}\n\nHere is a small, runnable sketch"
        )
        tail = "试着修改 `n`，看看结果如何变化。" if zh else "Run it and tweak `n` to see how it behaves."
        text = f"{head} {emoji}{'：' if zh else ':'}\n\n{blocks.code_block(h, p)}\n\n{tail}\n\n{pick_zh(h)}"
    elif intent == "math":
        text = _math_answer(p, low, h, zh, emoji)
    elif intent == "sentences":
        text = _sentences_answer(p, low, h, s, zh)
    elif intent in ("list", "explain"):
        explain = intent == "explain" or bool(re.search(_INTENTS[-1][1], low))
        text = _list_answer(p, low, h, s, zh, emoji, explain)
    else:
        text = _generic(topic, h, zh, emoji)
    return text + memory


_PLANS = {
    "poem": "write a short poem",
    "story": "tell a short story",
    "translate": "give a translation",
    "table": "put it in a table",
    "code": "show a concrete example",
    "math": "work through the math",
    "sentences": "keep it to a few sentences",
    "list": "give a short list",
    "explain": "explain it step by step",
}


def reasoning_for(prompt: str) -> str:
    """A short, deterministic chain of thought that precedes the answer of a reasoning model."""
    topic = topic_of(prompt)
    h = _h(prompt)
    plans = ("give a structured overview", "show a concrete example", "compare the options", "keep it short")
    plan = _PLANS.get(intent_of(prompt)) or plans[h[6] % len(plans)]
    return (
        f"The user asks about “{topic}”. I should {plan}. "
        "Outline: 1) restate the goal, 2) list the key points, 3) add an example. "
        "好的，开始回答。"
    )


def json_answer_for(prompt: str, *, model: str) -> str:
    """A valid JSON object for ``response_format: {"type": "json_object"}``; a list the prompt asks
    for ("a list named facts", "3 fruits") comes as its own key."""
    h = _h(prompt.strip())
    topic = topic_of(prompt)
    low = prompt.lower()
    zh = is_chinese(prompt)
    obj: dict[str, Any] = {
        "topic": topic,
        "summary": f"A deterministic answer about {topic} from the local {model} server.",
        "keywords": [w for w in re.findall(r"[A-Za-z\u4e00-\u9fff]{3,}", prompt)[:5]],
        "score": h[7] % 100,
        "language": "zh" if re.search(r"[\u4e00-\u9fff]", prompt) else "en",
        "emoji": T.EMOJI[h[0] % len(T.EMOJI)],
    }
    named = re.search(r"\b(?:list|array)\s+(?:named|called)\s+[\"'`]?(\w+)", prompt, re.I)
    counted = re.search(rf"\b(?:{_NUM})\s+([a-z]+s)\b", low)
    key = (named or counted).group(1) if (named or counted) else None
    if key and key not in obj:
        n = _count(low, rf"{re.escape(key.lower())}", 3)
        s = _subject(prompt, "this topic")
        known = _known(low)
        obj[key] = [re.sub(r"\*\*(.+?)\*\*", r"\1", x) for x in T.items(h, s, n, zh, known)]
    return json.dumps(obj, ensure_ascii=False, indent=2)
