"""Model catalogue: name -> capabilities.

One table shared by the local server (which model may do what, which error to give), by
``%glm models`` and by the widgets' model pickers, so the three never disagree. Only names the wire
spec's §9 confirms (official docs or the SDKs' constants) are listed; names it marks UNCONFIRMED
(glm-5.x, glm-4.6-air/-flash, glm-5v-turbo) are left out rather than guessed. Grouped by kind, in
the order :data:`KINDS` gives.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Kind = Literal["chat", "video", "image", "embedding"]
Thinking = Literal["no", "optional", "always"]


class ModelInfo(NamedTuple):
    """What one model can do; thinking "optional" means on by default, ``{"type": "disabled"}`` = off."""

    name: str
    kind: Kind
    stream: bool
    async_: bool
    thinking: Thinking
    vision: bool
    video: bool
    free: bool
    note: str


def _chat(
    name: str,
    note: str,
    *,
    thinking: Thinking = "no",
    vision: bool = False,
    video: bool = False,
    free: bool = False,
) -> ModelInfo:
    return ModelInfo(name, "chat", True, True, thinking, vision, video, free, note)


def _other(name: str, kind: Kind, note: str, *, async_: bool = False, free: bool = False) -> ModelInfo:
    return ModelInfo(name, kind, False, async_, "no", False, False, free, note)


_CATALOGUE: tuple[ModelInfo, ...] = (
    # Reasoning on by default.
    _chat("glm-4.7", "thinking on by default, clear_thinking", thinking="optional"),
    _chat("glm-4.7-flash", "free, thinking on by default", thinking="optional", free=True),
    _chat("glm-4.7-flashx", "fast, thinking on by default", thinking="optional"),
    _chat("glm-4.6", "200K context, 128K output, tool_stream", thinking="optional"),
    _chat("glm-4.5", "hybrid reasoning, 96K output", thinking="optional"),
    _chat("glm-4.5-air", "hybrid reasoning, lighter", thinking="optional"),
    _chat("glm-4.5-x", "hybrid reasoning, fast", thinking="optional"),
    _chat("glm-4.5-airx", "hybrid reasoning, light and fast", thinking="optional"),
    _chat("glm-4.5-flash", "free hybrid reasoning", thinking="optional", free=True),
    # GLM-4 family, no reasoning.
    _chat("glm-4-32b-0414-128k", "z.ai, 128K context"),
    _chat("glm-4-plus", "128K context, 4K output"),
    _chat("glm-4-air", "older name, still accepted"),
    _chat("glm-4-air-250414", "balanced GLM-4"),
    _chat("glm-4-airx", "fast GLM-4"),
    _chat("glm-4-flash", "free, the default model", free=True),
    _chat("glm-4-flash-250414", "free GLM-4 snapshot", free=True),
    _chat("glm-4-flashx", "fast low-cost GLM-4"),
    _chat("glm-4-flashx-250414", "fast low-cost GLM-4 snapshot"),
    _chat("glm-4-long", "1M context"),
    _chat("glm-4-0520", "older snapshot"),
    _chat("glm-4", "older name"),
    # Z1: chain of thought inside content as <think>...</think>.
    _chat("glm-z1-air", "always reasons, <think> in content", thinking="always"),
    _chat("glm-z1-airx", "always reasons, <think> in content", thinking="always"),
    _chat("glm-z1-flash", "free, always reasons, <think> in content", thinking="always", free=True),
    _chat("glm-z1-flashx", "always reasons, <think> in content", thinking="always"),
    # Vision.
    _chat("glm-4v", "images", vision=True),
    _chat("glm-4v-plus", "images and video", vision=True, video=True),
    _chat("glm-4v-plus-0111", "images and video", vision=True, video=True),
    _chat("glm-4v-flash", "free, images", vision=True, free=True),
    _chat("glm-4.1v-thinking-flash", "free, always reasons", thinking="always", vision=True, free=True),
    _chat("glm-4.1v-thinking-flashx", "always reasons", thinking="always", vision=True),
    _chat("glm-4.5v", "images, video, files; hybrid reasoning", thinking="optional", vision=True, video=True),
    _chat("glm-4.6v", "images, video, files; hybrid reasoning", thinking="optional", vision=True, video=True),
    _chat("glm-4.6v-flash", "free vision model", thinking="optional", vision=True, free=True),
    _chat("glm-4.6v-flashx", "fast vision model", thinking="optional", vision=True),
    # Role play and code.
    _chat("charglm-3", "role play; use meta"),
    _chat("charglm-4", "role play; use meta"),
    _chat("emohaa", "supportive conversation"),
    _chat("codegeex-4", "code completion; use extra"),
    # Video (always async), images (sync), embeddings.
    _other("cogvideox", "video", "text/image to video", async_=True),
    _other("cogvideox-flash", "video", "free text/image to video", async_=True, free=True),
    _other("cogvideox-2", "video", "text/image to video", async_=True),
    _other("cogvideox-3", "video", "text/image to video, audio", async_=True),
    _other("cogview-3", "image", "text to image"),
    _other("cogview-3-plus", "image", "text to image"),
    _other("cogview-3-flash", "image", "free text to image", free=True),
    _other("cogview-4", "image", "text to image, Chinese text in images"),
    _other("cogview-4-250304", "image", "text to image snapshot"),
    _other("embedding-2", "embedding", "1024 dimensions"),
    _other("embedding-3", "embedding", "256-2048 dimensions, default 2048"),
)

KINDS: tuple[Kind, ...] = ("chat", "video", "image", "embedding")
MODELS: dict[str, ModelInfo] = {m.name: m for kind in KINDS for m in _CATALOGUE if m.kind == kind}


def by_kind() -> dict[Kind, list[ModelInfo]]:
    """The catalogue grouped by kind (chat, video, image, embedding), for listings and pickers."""
    return {kind: [m for m in MODELS.values() if m.kind == kind] for kind in KINDS}


def get_model(name: str) -> ModelInfo | None:
    """Look a model up by exact name (model codes are case-sensitive on the wire); None if unknown."""
    return MODELS.get(name) if isinstance(name, str) else None
