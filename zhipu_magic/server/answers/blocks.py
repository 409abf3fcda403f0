"""Code, tables and math for the local server's answers (see :mod:`.intents`).

Split from :mod:`.templates` by topic; the same conventions: ``h`` is the prompt's SHA-256 digest,
``s`` its subject, ``zh`` picks Chinese.
"""

from __future__ import annotations

import math

from .templates import FACETS, ZH_FACETS

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
