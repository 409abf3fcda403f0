"""Real-browser harness: one JupyterLab server per session, headless Debian chromium, fresh kernels.

Follows ``/work/shared/BROWSER_TESTING.md`` section 3: an isolated Jupyter environment (config, data,
runtime, settings and workspace dirs in tmp), ``overrides.json`` that silences the news toast and
auto-starts the kernel, a token, a free port, ``/api/status`` readiness, REST shutdown. Chromium is
the system one (``/usr/bin/chromium``, never ``playwright install``). Kernels inherit the server's
environment: no API key, so the magics use the package's local server; ``ZHIPU_MAGIC_LOCAL_RATE``
slows it down enough to see an answer stream; ``ZHIPU_MAGIC_HOME`` is a tmp dir.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
TOKEN = "browsertesttoken"
AUTH = {"Authorization": f"token {TOKEN}"}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A real kernel name and idle: the indicator alone says "idle" before a session exists (pitfall 1).
KERNEL_READY_JS = """() => {
  const k = (document.querySelector('.jp-KernelName')?.innerText || '').trim();
  const s = document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status;
  return k !== '' && k !== 'No Kernel' && s === 'idle'; }"""
OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension:tracker": {"autoStartDefaultKernel": True},
}
LOCAL_RATE = "30"  # tokens/s from the local server: slow enough to watch an answer grow


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)
            if not os.path.exists(CHROMIUM):
                item.add_marker(pytest.mark.skip(reason=f"{CHROMIUM} not installed"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A JupyterLab 4 server on 127.0.0.1 with its own tmp root and isolated config."""
    yield from _serve("lab", tmp_path_factory)


@pytest.fixture(scope="session")
def notebook7_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The same for Jupyter Notebook 7 (``jupyter notebook``, the ``notebook`` extra)."""
    pytest.importorskip("notebook", minversion="7")
    yield from _serve("notebook", tmp_path_factory)


def _serve(app: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base_dir = tmp_path_factory.mktemp(app)
    root, jhome, settings = base_dir / "nb", base_dir / "jhome", base_dir / "app-settings"
    for d in (root, jhome, settings):
        d.mkdir()
    (settings / "overrides.json").write_text(json.dumps(OVERRIDES))
    zm_home = base_dir / "zm_home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZHIPUAI_", "ZAI_", "JUPYTER"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(jhome / "config"),
        JUPYTER_DATA_DIR=str(jhome / "data"),
        JUPYTER_RUNTIME_DIR=str(jhome / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(jhome / "lab-user-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(jhome / "lab-workspaces"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        ZHIPU_MAGIC_HOME=str(zm_home),
        ZHIPU_MAGIC_LOCAL_RATE=LOCAL_RATE,
        ZHIPU_MAGIC_LOCAL_DIRECTIVES="1",  # the tests' [[fault:...]] prompts
    )
    port = _free_port()
    log = (base_dir / "lab.log").open("wb")
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        app,
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--ip=127.0.0.1",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}",
        f"--LabServerApp.app_settings_dir={settings}",
        "--expose-app-in-browser",
    ] + (["--LabApp.extension_manager=readonly"] if app == "lab" else [])
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(root))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"jupyter {app} exited early:\n{(base_dir / 'lab.log').read_text()[-3000:]}"
                )
            try:
                if requests.get(f"{base}/api/status", headers=AUTH, timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter {app} did not become ready in 60 s")
            time.sleep(0.1)
        yield {
            "app": app,
            "base": base,
            "root": root,
            "home": zm_home,
            "env": env,
            "log": base_dir / "lab.log",
        }
    finally:
        try:
            requests.post(f"{base}/api/shutdown", headers=AUTH, timeout=5)
            proc.wait(20)
        except Exception:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def _delete_sessions(base: str) -> None:
    try:
        for s in requests.get(f"{base}/api/sessions", headers=AUTH, timeout=5).json():
            requests.delete(f"{base}/api/sessions/{s['id']}", headers=AUTH, timeout=10)
    except requests.RequestException:
        pass


@pytest.fixture
def fresh_kernels(jupyter_server: dict[str, Any]) -> Iterator[None]:
    """Kernels outlive the page (pitfall 3): every test starts and ends with none running."""
    _delete_sessions(jupyter_server["base"])
    yield
    _delete_sessions(jupyter_server["base"])


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """The system chromium through Playwright's sync API (one browser per session)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page; records dialogs and page errors; screenshot on failure."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.dialogs = []  # type: ignore[attr-defined]

    def on_dialog(dialog: Any) -> None:
        pg.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            pg.screenshot(path=str(ARTIFACTS / f"FAIL-{request.node.name}.png"))
        except Exception:
            pass
    context.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


CELLS_STARTED_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell .jp-InputPrompt')]
  .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""
# textContent, not innerText: a windowed notebook's off-screen cells have no rendered text
CELLS_DONE_JS = """(n) => {
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-Cell .jp-InputPrompt')];
  return prompts.length >= n && prompts.slice(0, n).every(p => /\\[\\d+\\]/.test(p.textContent)); }"""

WIDGET_ERRORS_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')]
  .filter(n => n.offsetParent !== null && /Error displaying widget|Loading widget/.test(n.innerText))
  .map(n => n.innerText)"""


class Lab:
    """Helpers bound to one page and the session's server."""

    def __init__(self, page: Any, server: dict[str, Any]) -> None:
        self.page, self.server = page, server
        self.root: Path = server["root"]
        self.contexts: list[Any] = []

    def notebook(self, name: str, cells: list[str]) -> str:
        """Write a notebook with a valid kernelspec (pitfall 5) into the served tmp root."""
        import nbformat

        nb = nbformat.v4.new_notebook(
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
        )
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        nbformat.write(nb, str(self.root / name))
        return name

    @property
    def app(self) -> str:
        return str(self.server.get("app", "lab"))

    def url(self, name: str) -> str:
        if self.app == "notebook":
            return f"{self.server['base']}/notebooks/{name}?token={TOKEN}"
        return f"{self.server['base']}/lab/tree/{name}?token={TOKEN}&reset"

    def open(self, name: str) -> None:
        """Open ``name`` (Lab: with a reset workspace) and wait for a real idle kernel."""
        self.page.goto(self.url(name))
        self.page.locator(".jp-Notebook").first.wait_for()
        self.page.wait_for_function(KERNEL_READY_JS, timeout=60_000)
        no = self.page.locator(".Toastify__toast button", has_text="No")
        if no.count():
            no.first.click()

    def run_all(self) -> None:
        """Run All Cells without waiting for them (a returned promise would block: pitfall 2).

        A Run All issued while the front end is still settling (a fresh page on a cold CI machine)
        can be dropped: if no cell has started after a while, it is issued once more.
        """
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self._run_all_command()
        try:
            self.page.wait_for_function(CELLS_STARTED_JS, timeout=20_000)
        except PlaywrightTimeout:
            self._run_all_command()

    def _run_all_command(self) -> None:
        self.page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")

    def wait_done(self, n: int, timeout: float = 60_000) -> None:
        """Wait until the first ``n`` cells show an execution count and the kernel is idle (after
        :meth:`run_all`, which makes sure the cells started)."""
        self.page.wait_for_function(CELLS_DONE_JS, arg=n, timeout=timeout)
        self.page.wait_for_function(KERNEL_READY_JS, timeout=timeout)

    def shutdown_kernels(self) -> None:
        """End every kernel session (the page keeps the notebook open, kernel-less)."""
        _delete_sessions(self.server["base"])

    def fresh_page(self) -> Lab:
        """A new browser context on the same server: the notebook as reopened tomorrow."""
        context = self.page.context.browser.new_context(viewport={"width": 1280, "height": 900})
        self.contexts.append(context)
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        pg.dialogs = []
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
        return Lab(pg, self.server)

    def close(self) -> None:
        for context in self.contexts:
            context.close()

    def save(self) -> None:
        """Save the notebook (what a user's Ctrl+S does) and wait until the file has outputs."""
        import nbformat

        name = self.page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path")
        self.page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        path = self.root / name
        for _ in range(100):
            try:
                nb = nbformat.read(str(path), as_version=4)
                if any(c.get("outputs") for c in nb.cells):
                    return
            except Exception:
                pass
            self.page.wait_for_timeout(100)
        raise AssertionError(f"{name} was not saved with outputs")

    def cell(self, i: int) -> Any:
        return self.page.locator(".jp-Notebook .jp-Cell").nth(i)

    def untrusted_copy(self, name: str) -> str:
        """A copy of the saved ``name`` as someone else would open it: its signature no longer
        matches (one metadata field differs), so the front end sanitizes its HTML outputs."""
        import nbformat

        nb = nbformat.read(str(self.root / name), as_version=4)
        nb.metadata["shared_copy"] = True
        copy = f"shared-{name}"
        nbformat.write(nb, str(self.root / copy))
        return copy

    def widget_errors(self) -> list[str]:
        """The visible outputs that read "Error displaying widget" or "Loading widget" (a widget
        saved without its kernel; call after the widget manager had ~3 s to give up)."""
        return self.page.evaluate(WIDGET_ERRORS_JS)

    def js_flag(self, name: str) -> Any:
        """``window[name]`` in the page (a hostile payload would set it if it ever ran)."""
        return self.page.evaluate("(n) => window[n] ?? null", name)

    def screenshot(self, name: str, locator: Any = None) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        (locator or self.page).screenshot(path=str(path))
        return path

    @staticmethod
    def copy_to_docs(path: Path) -> None:
        """Copy a screenshot into docs/img/ (the README shows it) when ZHIPU_MAGIC_DOCS_IMG=1, so an
        ordinary test run leaves the tree clean; tests/artifacts/ always has the fresh one."""
        if os.environ.get("ZHIPU_MAGIC_DOCS_IMG") != "1":
            return
        target = ROOT / "docs" / "img"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.name)


@pytest.fixture
def lab(page: Any, jupyter_server: dict[str, Any], fresh_kernels: None) -> Iterator[Lab]:
    helper = Lab(page, jupyter_server)
    yield helper
    helper.close()


@pytest.fixture(params=["lab", "notebook"])
def app(request: pytest.FixtureRequest, page: Any) -> Iterator[Lab]:
    """The same test in JupyterLab 4 and in Jupyter Notebook 7."""
    server = request.getfixturevalue("jupyter_server" if request.param == "lab" else "notebook7_server")
    _delete_sessions(server["base"])
    helper = Lab(page, server)
    yield helper
    helper.close()
    _delete_sessions(server["base"])
