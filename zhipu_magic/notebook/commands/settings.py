"""``%glm config``, ``login``, ``logout``: the settings and the session key."""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError
from traitlets import TraitError

from ...api.config import Secret
from ...api.errors import InvalidKeyError
from ...core.backend import backend
from .. import render
from ..options import KEY_REFUSED
from .registry import arg, command


@command(
    "config",
    "show settings (the key only as set / not set); "
    "%glm config model=glm-4-air temperature=0.3 sets defaults",
    arg("settings", nargs="*", metavar="NAME=VALUE"),
)
def config(magics: Any, args: Any) -> None:
    names = list(magics.trait_names(config=True))
    for item in args.settings:
        _set(magics, names, item)
    rows = [[n, repr(getattr(magics, n))] for n in sorted(names)]
    try:
        key, state = magics.key(), ""
    except InvalidKeyError as err:  # a bad key in the environment: say so, still show the settings
        key, state = None, f"invalid: {err}"
    rows.append(["api key", state or (f"set ({backend.key_source()})" if key else "not set")])
    base = magics.configured_base_url()
    answers = base if key else ("(needs a key)" if base else "built-in local server")
    rows.append(["backend", answers or ""])
    render.show(render.table_bundle(["setting", "value"], rows, title="GLMMagics settings"))


def _set(magics: Any, names: list[str], item: str) -> None:
    key, sep, value = item.partition("=")
    key = key.strip().replace("-", "_")
    if not sep:
        raise UsageError("use %glm config NAME=VALUE ...")
    if key.lower() in ("api_key", "apikey", "key", "token"):
        raise UsageError(KEY_REFUSED)
    if key not in names:
        raise UsageError(f"unknown setting {key[:40]!r}; settings: {', '.join(sorted(names))}")
    trait = magics.traits()[key]
    text = value.strip()
    try:
        parsed = None if trait.allow_none and text.lower() in ("none", "") else trait.from_string(text)
        setattr(magics, key, parsed)
    except (TraitError, ValueError) as err:
        problem = " ".join(str(err).split())
        raise UsageError(problem if problem.startswith(key) else f"{key}: {problem}") from None
    from ...api.models import get_model

    if key == "model" and parsed and get_model(parsed) is None:
        note = f"note: {parsed!r} is not in the model list (%glm models); kept, the API will say if it exists"
        render.show(render.text_bundle(note))


@command(
    "login",
    "enter a key for this session with hidden input (never saved)",
    arg("typed", nargs="*", help=argparse.SUPPRESS),  # anything typed here is refused, never echoed
)
def login(magics: Any, args: Any) -> None:
    if args.typed:  # whatever follows is probably the key itself: refuse it, never echo it
        raise UsageError(KEY_REFUSED)
    no_stdin = "no stdin here (e.g. nbclient or a front end without input): set ZHIPUAI_API_KEY instead"
    kernel = getattr(magics.shell, "kernel", None)
    if kernel is not None and not getattr(kernel, "_allow_stdin", True):
        raise UsageError(no_stdin)
    import getpass

    try:
        value = getpass.getpass("Zhipu API key (hidden): ")
    except (NotImplementedError, EOFError, OSError, RuntimeError):
        # ipykernel raises StdinNotImplementedError (a NotImplementedError) without stdin.
        raise UsageError(no_stdin) from None
    try:
        secret, problem = Secret(value.strip()), ""
    except InvalidKeyError as err:
        secret, problem = None, str(err)  # names the position of the bad character, never the key
    del value  # gone before anything is raised: no frame of a traceback keeps it
    if secret is None:
        raise UsageError(f"{problem}; nothing changed")
    if not secret:
        raise UsageError("no key entered; nothing changed")
    backend.session_key = secret
    render.show(render.text_bundle("API key set for this session (kept in memory only, never saved)."))


@command("logout", "forget the key entered with %glm login")
def logout(magics: Any, args: Any) -> None:
    backend.forget_key()
    render.show(render.text_bundle("Session key forgotten."))
