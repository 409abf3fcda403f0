"""A translation-looking rendering for the local server's "translate ..." answers (see :mod:`.intents`):
known phrases exactly, other text word by word from a small dictionary.
"""

from __future__ import annotations

from .templates import cap

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
