"""Canned pieces the local server's answers are built from (see :mod:`.intents`): the shared
pickers, poems, stories, lists and summaries; code, tables and math are in :mod:`.blocks`, translation
in :mod:`.translation`.

Pure data plus tiny builders. ``h`` is always the SHA-256 digest of the prompt, so every choice
here is deterministic; ``s`` is the prompt's subject ("notebooks", "土星"), ``zh`` picks Chinese.
"""

from __future__ import annotations

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


def story_name(h: bytes, zh: bool) -> str:
    """The hero of a story (the same for the same prompt)."""
    name = str(pick(h, 12, NAMES))
    if zh:
        name = {"Mei": "小美", "Arlo": "阿洛", "Lin": "小林", "Nora": "诺拉", "Kai": "小凯"}.get(name, "雅拉")
    return name


def story(h: bytes, s: str, sentences: int, zh: bool) -> list[str]:
    """``sentences`` sentences (at least 1): an opening, some middle, an ending."""
    opens, middles, ends = (
        (ZH_STORY_OPEN, ZH_STORY_MIDDLE, ZH_STORY_END) if zh else (STORY_OPEN, STORY_MIDDLE, STORY_END)
    )
    name = story_name(h, zh)
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


# --- long stories: one paragraph per stage (opening, trouble, help, turn, ending) ---------------

LONG_STORY = (
    (
        "Once, in a quiet town by the river, there lived {s}. The mornings were slow and the evenings"
        " were long, and {name} liked it that way. Nobody expected anything unusual to happen there.",
        "Every morning, {name} sat by the window and thought about {s}. The kettle sang, the street"
        " woke up, and the same questions came back like old friends.",
    ),
    (
        "Then, one grey week, everything went wrong at once. The plans fell apart, the weather turned,"
        " and even the simplest task took the whole day. {name} began to wonder whether {s} had been a"
        " good idea at all.",
        "Trouble arrived quietly, as it usually does. A small mistake grew into a large one, and {name}"
        " spent three evenings undoing what a single afternoon had done.",
    ),
    (
        "Help came from an unexpected place: a friend from the market, with a pot of tea 🍵 and a"
        " notebook full of sketches. They talked until the lamps came on. Between them, a new idea took"
        " shape.",
        'An old neighbour, who had seen {s} before, stopped by with advice and biscuits. "Start'
        ' smaller," she said, "and write everything down." {name} did exactly that.',
    ),
    (
        "Step by step, things began to change. Each small attempt taught something, and each lesson made"
        " the next attempt a little easier. One rainy evening, the last piece finally fell into place.",
        "The turning point was almost boring: a checklist, a little patience and a good night's sleep."
        " By Friday the problem had shrunk to something {name} could hold in one hand.",
    ),
    (
        "By the end of the summer, the whole town was telling the story of {s}, and everyone smiled ✨."
        " {name} kept the notebook on the shelf by the window, just in case.",
        "And that is how {s} became {name}'s favourite memory 🌟. Years later, when someone asked how it"
        ' all worked out, {name} simply said: "One step at a time."',
    ),
)
ZH_LONG_STORY = (
    "从前，在河边的小镇上，有一个关于{s}的故事。那里的早晨很慢，傍晚很长，{name}很喜欢这样的日子。",
    "可是有一个灰蒙蒙的星期，一切都不顺利。计划被打乱，天气也变了，{name}开始怀疑{s}是不是个好主意。",
    "帮助来自意想不到的地方：市场上的朋友带来一壶茶🍵和一本画满草图的笔记本。他们一直聊到灯亮起来。",
    "一步一步地，事情开始变化。每一次小小的尝试都教会了{name}一点东西。一个下雨的晚上，最后一块拼图终于放好了。",
    "到了夏天结束时，整个小镇都在讲{s}的故事。✨ 从此，{s}成了{name}最珍贵的回忆。🌟",
)


def long_story(h: bytes, s: str, zh: bool) -> list[str]:
    """Five paragraphs (opening, trouble, help, turn, ending) about ``s``."""
    name = story_name(h, zh)
    if zh:
        return [p.format(s=s, name=name) for p in ZH_LONG_STORY]
    return [stage[h[20 + i] % len(stage)].format(s=s, name=name) for i, stage in enumerate(LONG_STORY)]
