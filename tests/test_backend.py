"""The backend choice shared by the magics and the panels: real API, built-in server, or refusal."""

from __future__ import annotations

import pytest

from zhipu_magic.api.config import Secret
from zhipu_magic.api.errors import MissingKeyError
from zhipu_magic.core.backend import Backend
from zhipu_magic.server import start_local_server


def test_no_key_no_base_url_is_the_local_server() -> None:
    client, local = Backend().client()
    assert local and client.base_url == start_local_server().base_url
    assert client.chat("echo: hi")["choices"][0]["message"]["content"] == "hi"


def test_base_url_without_key_refuses_before_sending(server, monkeypatch) -> None:
    monkeypatch.setenv("ZHIPUAI_BASE_URL", server.base_url)
    with pytest.raises(MissingKeyError, match="ZHIPUAI_API_KEY"):
        Backend().client()
    assert server.requests == []


def test_session_key_wins_and_its_source_is_named(server, monkeypatch, canary) -> None:
    monkeypatch.setenv("ZHIPUAI_BASE_URL", server.base_url)
    monkeypatch.setenv("ZAI_API_KEY", "env.key")
    b = Backend()
    assert b.key_source() == "ZAI_API_KEY"
    b.session_key = Secret(canary)
    client, local = b.client()
    assert not local and b.key_source() == "%glm login" and canary not in repr(b.__dict__)
    client.chat("hello")
    b.forget_key()
    assert b.key().reveal() == "env.key"


def test_one_cached_client_per_settings(server, monkeypatch) -> None:
    monkeypatch.setenv("ZHIPUAI_API_KEY", "k.k")
    b = Backend()
    first, _ = b.client(server.base_url)
    assert b.client(server.base_url)[0] is first
    other, _ = b.client(server.base_url, timeout=5.0)
    assert other is not first and other.timeout[1] == 5.0
    b.close()


def test_panels_share_the_magics_backend(server, monkeypatch) -> None:
    """A key entered with %glm login reaches the widget panels too."""
    pytest.importorskip("ipywidgets")
    from zhipu_magic.core.backend import backend
    from zhipu_magic.notebook import widgets

    monkeypatch.setenv("ZHIPUAI_BASE_URL", server.base_url)
    monkeypatch.setattr(backend, "session_key", Secret("login.key"))
    client = widgets.default_client()
    assert client.base_url == server.base_url and client.has_key


def test_only_our_own_server_counts_as_local(server) -> None:
    """Footers say "local server" for a LocalServer of this process, not for any loopback URL."""
    from rawserver import RawServer

    from zhipu_magic.notebook.widgets.base import is_local
    from zhipu_magic.server import is_builtin

    assert is_local(server.client())
    with RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n") as proxy:
        assert not is_builtin(proxy.base_url)
    url = server.base_url
    server.stop()
    assert not is_builtin(url)
