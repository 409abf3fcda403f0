"""Shared fixtures: an isolated environment and the package's own local server on 127.0.0.1."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import KEY, Sleeps

CANARY_KEY = "canary0123456789abcdef0123456789.CANARYsecretXYZ42"  # never a real key
ENV_VARS = ("ZHIPUAI_API_KEY", "ZAI_API_KEY", "ZHIPUAI_BASE_URL", "ZAI_BASE_URL")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's keys, base URL or task store."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ZHIPU_MAGIC_HOME", str(tmp_path_factory.mktemp("zm_home")))


@pytest.fixture(autouse=True)
def _no_card_left_polling() -> Iterator[None]:
    """Task cards poll by themselves until their task is final: none outlives its test, where its
    late updates would land in the next test's display."""
    yield
    card = sys.modules.get("zhipu_magic.notebook.widgets.card")
    if card is not None:
        card.TaskCard.stop_polling()


@pytest.fixture
def server() -> Iterator[object]:
    """A fresh local GLM server on an ephemeral port, streaming as fast as it can."""
    from zhipu_magic.server import LocalServer

    with LocalServer(port=0, token_rate=0.0) as srv:
        yield srv


@pytest.fixture
def sleeps() -> Sleeps:
    """An injected sleep: retry delays are recorded, not waited."""
    return Sleeps()


@pytest.fixture
def make(server: object, sleeps: Sleeps) -> Iterator[Callable[..., object]]:
    """A factory of GLMClients for the fixture server with the injected sleep (closed afterwards)."""
    from zhipu_magic.api.client import GLMClient

    clients: list[GLMClient] = []

    def factory(**kw: object) -> GLMClient:
        kw.setdefault("sleep", sleeps)
        kw.setdefault("rng", lambda: 1.0)
        client = GLMClient(kw.pop("api_key", KEY), kw.pop("base_url", server.base_url), **kw)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture(scope="module")
def shell() -> Iterator[object]:
    """The process's InteractiveShell (created if needed, cleared afterwards if we created it)."""
    from IPython.core.interactiveshell import InteractiveShell

    created = not InteractiveShell.initialized()
    ip = InteractiveShell.instance()
    saved_pub = ip.display_pub
    yield ip
    ip.display_pub = saved_pub
    if created:
        InteractiveShell.clear_instance()


@pytest.fixture
def ip(shell, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The shell with the extension loaded, a fresh display recorder, and a rich front end; every
    name a test adds to the namespace, the settings and the conversations are gone afterwards."""
    from helpers import Recorder

    from zhipu_magic.core.conversation import conversations
    from zhipu_magic.notebook import render

    shell.rec = Recorder(shell=shell)
    shell.display_pub = shell.rec
    monkeypatch.setattr(render, "is_rich_frontend", lambda shell=None: True)
    shell.run_line_magic("load_ext", "zhipu_magic")
    conversations.reset()
    shell.rl_next_input = None
    before = set(shell.user_ns)
    yield shell
    shell.run_line_magic("unload_ext", "zhipu_magic")
    for name in set(shell.user_ns) - before:
        shell.user_ns.pop(name, None)
    shell.user_ns.pop("_glm", None)
    shell.parent_header = {}
    shell.config.pop("GLMMagics", None)
    shell.rl_next_input = None
    conversations.reset()


@pytest.fixture
def api(server, monkeypatch: pytest.MonkeyPatch, canary: str) -> object:
    """Point the magics at the fixture server with the canary key."""
    monkeypatch.setenv("ZHIPUAI_BASE_URL", server.base_url)
    monkeypatch.setenv("ZHIPUAI_API_KEY", canary)
    return server


@pytest.fixture
def canary() -> str:
    return CANARY_KEY


def pytest_report_header(config: pytest.Config) -> str:
    return f"zhipu_magic tests; chromium: {'yes' if os.path.exists('/usr/bin/chromium') else 'no'}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API keeps an asyncio loop marked as running in
    the main thread while its session fixture lives, which other tests must not inherit."""
    items.sort(key=lambda item: "browser" in Path(str(item.fspath)).parts)
