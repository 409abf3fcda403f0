"""Canned pieces the local server's answers are built from (see ``answers.py``).

Pure data plus tiny builders. ``h`` is always the SHA-256 digest of the prompt, so every choice
here is deterministic; ``s`` is the prompt's subject ("notebooks", "土星"), ``zh`` picks Chinese.
"""

from __future__ import annotations

import math

EMOJI = ("✨", "🚀", "📘", "🧠", "🌱", "🔍", "🎯", "🧩")
ZH_NOTES = (
    "总结：先把问题拆小，再逐步验证每一步。",
    "小结：清晰的命名和简单的结构最重要。",
    "提示：遇到错误时，先读完整的错误信息。",
    "要点：测试让重构变得安全又轻松。",
)
POINTS = (
    "Start from a small, concrete example and grow it step by step.",
    "Measure before optimising: intuition about hot paths is often wrong.",
    "Name things after what they mean, not after how they are computed.",
    "Keep the happy path short and make failures loud and specific.",
    "Write the test first when the behaviour is easy to state.",
    "Prefer plain data structures; add classes when behaviour appears.",
    "Document *why*, the code already says *what*.",
    "Automate the boring parts so you can think about the interesting ones.",
)
ZH_POINTS = (
    "从一个小而具体的例子开始，一步一步扩展。",
    "先测量，再优化：直觉常常会出错。",
    "按含义命名，而不是按计算方式命名。",
    "让正常流程保持简短，让错误清楚明确。",
    "行为容易描述时，先写测试。",
    "多用简单的数据结构，需要时再引入类。",
)


def pick(h: bytes, i: int, seq: tuple | list) -> object:
    return seq[h[i % len(h)] % len(seq)]


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


# --- poems ---------------------------------------------------------------------------------------

HAIKU = (
    ("{S} at first light", "a quiet page fills slowly,", "ink remembers all"),
    ("Soft hum of {s}", "thoughts drift like leaves on water,", "one bright idea stays"),
    ("Morning, {s} wakes", "small steps across an open field,", "the answer blooms slow"),
)
LIMERICK = (
    (
        "There once was a fan of {s}",
        "who tinkered with it night and day;",
        "with a grin and a pen",
        "she tried it again,",
        "and shouted, “It works — hooray!”",
    ),
    (
        "A student who studied {s}",
        "kept notes in a colourful way;",
        "each cell that he ran",
        "went just as he'd plan,",
        "so he sang through the rest of the day.",
    ),
)
POEM = (
    (
        "Of {s} I sing, in a quiet key,",
        "a lantern held against the grey;",
        "each small discovery sets me free,",
        "each question lights another way —",
        "and {s} stays here with me.",
    ),
    (
        "Where {s} begins, the morning wakes,",
        "the river hums, the branches sway;",
        "a patient hand is all it takes",
        "to turn the dark into the day:",
        "{s}, in every step it makes.",
    ),
)
POEM_EXTRA = (
    "The tide comes in, the tide goes out,",
    "and what was doubt becomes a song;",
    "we learn by doing, turn about,",
    "and find that we were right along.",
)
ZH_HAIKU = (
    ("{s}静静醒来，", "一页纸上落满晨光，", "心中开出花。"),
    ("风吹过{s}，", "思绪像落叶漂在水上，", "留下一点光。"),
)
ZH_POEM = (
    ("{s}如春风，", "吹过山川与江河；", "一步一步走，", "一点一点学，", "心中自有光。"),
    ("我写{s}，", "写晨光落在窗前，", "写小路通向远方，", "写问题变成答案，", "也写明天的希望。"),
)


def poem(h: bytes, s: str, form: str, lines: int | None, zh: bool) -> list[str]:
    """The lines of a poem: haiku 3, limerick and other poems 5, or ``lines`` if asked for."""
    if zh:
        pool = ZH_HAIKU if form == "haiku" else ZH_POEM
        extra: tuple[str, ...] = ("月光照进来，", "灯火慢慢亮。")
    else:
        pool = {"haiku": HAIKU, "limerick": LIMERICK}.get(form, POEM)
        extra = POEM_EXTRA
    base = list(pick(h, 11, pool))  # type: ignore[arg-type]
    n = lines or len(base)
    body = (base[:-1] + list(extra) * (1 + n // 4))[: n - 1] + [base[-1]] if n > 1 else base[:1]
    return [ln.format(s=s, S=cap(s)) for ln in body]


# --- stories -------------------------------------------------------------------------------------

NAMES = ("Mei", "Arlo", "Lin", "Nora", "Kai", "Yara")
STORY_OPEN = (
    "Once, in a quiet town by the river, there lived {s}.",
    "Every morning, {name} sat by the window and thought about {s}.",
)
STORY_MIDDLE = (
    "At first nothing went right, and the days felt long and grey.",
    "Then {name} noticed a small detail that everyone else had missed.",
    "Step by step, with patience and a little humour, things began to change.",
    "A friend from the market brought tea and a new idea 🍵.",
    "There were setbacks, of course, but each one taught something useful.",
    "One rainy evening, the last piece finally fell into place.",
)
STORY_END = (
    "By the end of the summer, the whole town was telling the story of {s}, and everyone smiled ✨.",
    "And that is how {s} became {name}'s favourite memory 🌟.",
)
ZH_STORY_OPEN = ("从前，在河边的小镇上，有一个关于{s}的故事。", "每天早上，{name}都坐在窗前想着{s}。")
ZH_STORY_MIDDLE = (
    "一开始什么都不顺利，日子显得又长又灰。",
    "后来，{name}注意到了一个别人都没发现的小细节。",
    "一步一步地，带着耐心和一点幽默，事情开始变化。",
    "市场上的朋友送来一壶茶，也带来一个新主意。🍵",
)
ZH_STORY_END = ("到了夏天结束时，整个小镇都在讲{s}的故事。✨", "从此，{s}成了{name}最珍贵的回忆。🌟")


def story(h: bytes, s: str, sentences: int, zh: bool) -> list[str]:
    """``sentences`` sentences (at least 1): an opening, some middle, an ending."""
    opens, middles, ends = (
        (ZH_STORY_OPEN, ZH_STORY_MIDDLE, ZH_STORY_END) if zh else (STORY_OPEN, STORY_MIDDLE, STORY_END)
    )
    name = str(pick(h, 12, NAMES))
    if zh:
        name = {"Mei": "小美", "Arlo": "阿洛", "Lin": "小林", "Nora": "诺拉", "Kai": "小凯"}.get(name, "雅拉")
    start = h[13] % len(middles)
    middle = [middles[(start + i) % len(middles)] for i in range(max(0, sentences - 2))]
    parts = [str(pick(h, 14, opens)), *middle, str(pick(h, 15, ends))]
    if sentences == 1:
        parts = [str(pick(h, 15, ends))]
    return [p.format(s=s, name=name) for p in parts]


# --- lists, explanations, summaries --------------------------------------------------------------

FACETS = (
    "**Basics** — what {s} is, and why people care about it.",
    "**Example** — one concrete case of {s}, small enough to try today.",
    "**History** — where {s} comes from and how it has changed.",
    "**Pitfalls** — the mistakes beginners make with {s}, and how to avoid them.",
    "**Practice** — a five-minute exercise to get a feel for {s}.",
    "**Tools** — what helps most when working with {s}.",
    "**Comparison** — how {s} differs from the obvious alternative.",
    "**Next steps** — where to go once {s} feels familiar.",
)
ZH_FACETS = (
    "**基础**：{s}是什么，为什么值得关注。",
    "**例子**：一个关于{s}的具体小例子，今天就能试试。",
    "**历史**：{s}从哪里来，又是怎样变化的。",
    "**误区**：初学{s}时常见的错误，以及如何避免。",
    "**练习**：用五分钟亲手体验一下{s}。",
    "**下一步**：熟悉{s}之后，还可以学什么。",
)
# Small categories the server "knows", so "List 3 fruits" lists fruits.
KNOWN = {
    r"\bmoons? of saturn": ("Titan 🪐", "Enceladus", "Mimas", "Rhea", "Iapetus", "Dione", "Tethys"),
    r"\bmoons? of jupiter": ("Io 🌋", "Europa", "Ganymede", "Callisto"),
    r"\bfruits?\b|水果": (
        "Apple 🍎",
        "Mango 🥭",
        "Lychee (荔枝)",
        "Banana 🍌",
        "Grapes 🍇",
        "Peach 🍑",
        "Kiwi 🥝",
    ),
    r"\bcolou?rs?\b|颜色": ("Red ❤️", "Blue 💙", "Green 💚", "Yellow 💛", "Purple 💜", "Orange 🧡"),
    r"\bplanets?\b|行星": (
        "Mercury",
        "Venus",
        "Earth 🌍",
        "Mars",
        "Jupiter",
        "Saturn 🪐",
        "Uranus",
        "Neptune",
    ),
    r"\bprogramming languages?\b|编程语言": ("Python 🐍", "Rust 🦀", "TypeScript", "Go", "Julia", "Kotlin"),
    r"\bnames?\b|名字": ("Mochi 🍡", "Pebble", "Shelly 🐢", "Nori", "Sunny ☀️", "Bubbles 🫧", "Biscuit"),
    r"\bthings to do\b|\bactivities\b|去处|活动": (
        "An early walk before the crowds arrive 🌅",
        "A long lunch at a local favourite — ask what is in season 🍜",
        "A museum or gallery for the afternoon 🖼️",
        "Tea by the water as the lights come on 🍵",
        "A short hike up to a viewpoint ⛰️",
        "The night market for snacks 🏮",
    ),
}
SENTENCES = (
    "When it comes to {s}, the key is to start early and keep things simple.",
    "Put simply, {s} matters because it turns a vague idea into something you can check.",
    "The big win with {s} is confidence: every next step becomes safer.",
    "Over time, {s} gives back far more than it costs.",
    "People who look closely at {s} usually end up recommending it to others.",
    "The one thing to remember about {s}: small, steady steps beat heroic effort.",
)
ZH_SENTENCES = (
    "{s}是一个值得慢慢了解的话题。",
    "了解{s}，最好从一个具体的例子开始。",
    "关于{s}，最重要的是弄清楚它是什么、为什么重要。",
    "很多人第一次认真接触{s}时，都会感到惊喜。",
    "一步一步地学习{s}，比一口气学完更有效。",
)


def items(h: bytes, s: str, n: int, zh: bool, known: tuple[str, ...] | None = None) -> list[str]:
    """``n`` list items about ``s``: from a known category if there is one, else facets of ``s``."""
    pool = known or (ZH_FACETS if zh else FACETS)
    start = h[16] % len(pool)
    out = [pool[(start + i) % len(pool)].format(s=s) for i in range(min(n, len(pool)))]
    out += [
        (f"**第{i + 1}点**：关于{s}的更多想法。" if zh else f"**Idea {i + 1}** — one more angle on {s}.")
        for i in range(len(out), n)
    ]
    return out


def sentences(h: bytes, s: str, n: int, zh: bool) -> list[str]:
    pool = ZH_SENTENCES if zh else SENTENCES
    start = h[17] % len(pool)
    out = [pool[(start + i) % len(pool)].format(s=s) for i in range(min(n, len(pool)))]
    return [cap(x) for x in out] + [("还有一点：保持好奇。" if zh else "And stay curious.")] * (n - len(out))


# --- code, tables, math --------------------------------------------------------------------------

CODE = {
    "fib": "    a, b = 0, 1\n    out = []\n    for _ in range(n):\n        out.append(a)\n"
    "        a, b = b, a + b\n    return out",
    "squares": "    return [i * i for i in range(n)]",
    "running_total": "    total, out = 0, []\n    for i in range(1, n + 1):\n        total += i\n"
    "        out.append(total)\n    return out",
    "evens": "    return [i for i in range(2 * n) if i % 2 == 0]",
    "primes": "    return [p for p in range(2, n * n) if all(p % d for d in range(2, int(p**0.5) + 1))][:n]",
    "factorials": "    out, f = [], 1\n    for i in range(1, n + 1):\n        f *= i\n        out.append(f)\n"
    "    return out",
}
CODE_HINTS = (
    ("fib", "fib"),
    ("prime", "primes"),
    ("质数", "primes"),
    ("factorial", "factorials"),
    ("square", "squares"),
)


def code_block(h: bytes, topic: str) -> str:
    low = topic.lower()
    name = next((n for word, n in CODE_HINTS if word in low), None)
    name = name or ("fib", "squares", "running_total", "evens")[h[4] % 4]
    n = 3 + h[3] % 5
    return (
        f"```python\ndef {name}(n: int) -> list[int]:\n"
        f'    """A tiny helper for: {topic.replace(chr(34), "")[:40]}."""\n'
        f"{CODE[name]}\n\n\nprint({name}({n}))\n```"
    )


def table(h: bytes) -> str:
    rows = "\n".join(
        f"| {step} | {h[10 + i] % 90 + 10} | {'✅' if h[20 + i] % 3 else '⚠️'} |"
        for i, step in enumerate(("Plan", "Build", "Test"))
    )
    return "| Step | Score | Status |\n|---|---:|:---:|\n" + rows


def compare_table(h: bytes, left: str, right: str, zh: bool) -> str:
    aspects = (
        ("上手难度", "速度", "生态", "适合场景") if zh else ("Learning curve", "Speed", "Ecosystem", "Fun")
    )

    def stars(b: int) -> str:
        return "★" * (1 + b % 5) + "☆" * (4 - b % 5)

    rows = "\n".join(f"| {a} | {stars(h[18 + i])} | {stars(h[24 + i])} |" for i, a in enumerate(aspects))
    head = "方面" if zh else "Aspect"
    return f"| {head} | {left} | {right} |\n|---|:---:|:---:|\n{rows}"


def facet_table(h: bytes, s: str, zh: bool) -> str:
    names = ("基础", "例子", "误区", "下一步") if zh else ("Basics", "Example", "Pitfalls", "Next steps")
    facets = ZH_FACETS if zh else FACETS
    notes = [facets[i].split("—")[-1].split("：")[-1].strip().format(s=s) for i in (0, 1, 3, -1)]
    rows = "\n".join(f"| {a} | {notes[i]} | {h[10 + i] % 90 + 10} |" for i, a in enumerate(names))
    head = "| 方面 | 说明 | 分数 |" if zh else "| Aspect | Notes | Score |"
    return f"{head}\n|---|---|---:|\n{rows}"


def math_block(h: bytes) -> str:
    k = 2 + h[5] % 3
    return (
        f"Inline math: $E=mc^2$, and a display formula:\n\n$$\\int_0^1 x^{k}\\,dx = \\frac{{1}}{{{k + 1}}}$$"
    )


def smallest_factor(n: int) -> int:
    if n < 2:
        return n
    for d in range(2, math.isqrt(n) + 1):
        if n % d == 0:
            return d
    return n


def prime_math(n: int, zh: bool) -> str:
    """Whether ``n`` is prime, with the reasoning in inline and display math."""
    d = smallest_factor(n)
    root = math.isqrt(n)
    if n < 2:
        verdict = (
            f"**{n} 不是质数**（质数至少是 2）。" if zh else f"**{n} is not prime** (primes start at 2)."
        )
        shown = f"$${n} < 2$$"
    elif d == n:
        verdict = (
            f"**{n} 是质数** ✅：$2$ 到 $\\lfloor\\sqrt{{{n}}}\\rfloor = {root}$ 之间没有数能整除它。"
            if zh
            else f"**{n} is prime** ✅: no $d$ with $2 \\le d \\le \\lfloor\\sqrt{{{n}}}\\rfloor = {root}$"
            " divides it."
        )
        shown = f"$$\\forall d \\in [2, {root}]:\\ {n} \\bmod d \\neq 0$$"
    else:
        verdict = (
            f"**{n} 不是质数** ❌：${n} = {d} \\times {n // d}$。"
            if zh
            else f"**{n} is not prime** ❌: ${n} = {d} \\times {n // d}$."
        )
        shown = f"$${n} = {d} \\times {n // d}$$"
    note = "质数定理：" if zh else "For scale, the prime number theorem:"
    return f"{verdict}\n\n{shown}\n\n{note} $$\\pi(x) \\sim \\frac{{x}}{{\\ln x}}$$"


PROOF = (
    "**Claim.** For every $n \\ge 1$:\n\n$$\\sum_{i=1}^{n} i = \\frac{n(n+1)}{2}$$\n\n"
    "**Proof** (induction). For $n = 1$ both sides are $1$. If it holds for $n$, then\n\n"
    "$$\\sum_{i=1}^{n+1} i = \\frac{n(n+1)}{2} + (n+1) = \\frac{(n+1)(n+2)}{2}.$$\n\n"
    "So it holds for $n + 1$ too. $\\blacksquare$"
)

# --- translation ---------------------------------------------------------------------------------

LANGS = {
    "chinese": ("zh", "中文"),
    "中文": ("zh", "中文"),
    "汉语": ("zh", "中文"),
    "english": ("en", "English"),
    "英文": ("en", "English"),
    "英语": ("en", "English"),
    "french": ("fr", "Français"),
    "法语": ("fr", "Français"),
    "spanish": ("es", "Español"),
    "german": ("de", "Deutsch"),
    "japanese": ("ja", "日本語"),
    "日语": ("ja", "日本語"),
}
PHRASES = {
    "hello": {"zh": "你好", "fr": "Bonjour", "es": "Hola", "de": "Hallo", "ja": "こんにちは"},
    "good morning": {
        "zh": "早上好",
        "fr": "Bonjour",
        "es": "Buenos días",
        "de": "Guten Morgen",
        "ja": "おはようございます",
    },
    "thank you": {"zh": "谢谢你", "fr": "Merci", "es": "Gracias", "de": "Danke", "ja": "ありがとう"},
    "how are you": {
        "zh": "你好吗",
        "fr": "Comment ça va",
        "es": "¿Cómo estás",
        "de": "Wie geht's",
        "ja": "お元気ですか",
    },
    "i love notebooks": {
        "zh": "我喜欢笔记本",
        "fr": "J'adore les carnets",
        "es": "Me encantan los cuadernos",
    },
}
WORDS_ZH = {
    "hello": "你好",
    "world": "世界",
    "good": "好",
    "morning": "早上",
    "thank": "谢谢",
    "you": "你",
    "i": "我",
    "love": "爱",
    "notebook": "笔记本",
    "notebooks": "笔记本",
    "cat": "猫",
    "dog": "狗",
    "the": "",
    "a": "一个",
    "sea": "大海",
    "book": "书",
    "friend": "朋友",
    "tea": "茶",
    "water": "水",
    "today": "今天",
    "weather": "天气",
    "is": "是",
    "nice": "很好",
    "beautiful": "美丽",
    "code": "代码",
}
WORDS_EN = {v: k for k, v in WORDS_ZH.items() if v and k not in ("notebooks", "thank", "i")}
WORDS_EN.update({"我": "I", "谢谢": "thank you", "你好": "hello", "很": "very", "的": ""})


def translate(text: str, lang: str) -> str:
    """A translation-looking rendering of ``text``: known phrases exactly, else word by word."""
    key = text.lower().strip(" .!?。！？")
    if key in PHRASES and lang in PHRASES[key]:
        return PHRASES[key][lang]
    if lang == "zh":
        words = [WORDS_ZH.get(w, w) for w in key.replace(",", " ").split()]
        return "".join(w for w in words if w) + "。"
    if lang == "en":
        out, i = [], 0
        while i < len(text):
            hit = next((w for w in sorted(WORDS_EN, key=len, reverse=True) if text.startswith(w, i)), None)
            out.append(f" {WORDS_EN[hit]} " if hit else text[i])
            i += len(hit) if hit else 1
        words = " ".join("".join(out).split()).strip(" 。！？")
        return cap(words) + "." if words else text
    return f"« {text.strip()} »"
