"""Saving a task's video (or answer) to a file: ``GLMClient.download`` and ``%glm result/wait -o FILE``.

Over real HTTP: the package's LocalServer serves a small real MP4 at a video task's result URL;
``RawServer`` gives byte-exact answers (no length, a dropped body, a redirect) and records heads.
"""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from rawserver import RawServer, chunked

from zhipu_magic.api.errors import (
    APIConnectionError,
    BadRequestError,
    NotFoundError,
    ResponseTooLargeError,
)
from zhipu_magic.server.endpoints import ASSETS

SAMPLE = (ASSETS / "sample.mp4").read_bytes()


def video_url(server) -> str:
    return f"{server.base_url}/files/sample.mp4"


def leftovers(folder) -> list[str]:
    """Temporary files a download left behind (there must be none)."""
    return sorted(p.name for p in folder.rglob("*.part"))


# -- GLMClient.download ---------------------------------------------------------------------------
def test_download_saves_the_whole_file(make, server, tmp_path):
    client = make()
    task = client.video("a paper boat")
    client.result(task["id"])  # the local server's first poll is PROCESSING
    done = client.result(task["id"])
    url = done["video_result"][0]["url"]
    target = tmp_path / "boat.mp4"
    assert client.download(url, target) == len(SAMPLE)
    assert target.read_bytes() == SAMPLE
    target.write_bytes(b"an older file")
    assert client.download(url, str(target)) == len(SAMPLE)  # replaced whole
    assert target.read_bytes() == SAMPLE
    assert client.download(url, tmp_path / "new" / "dir" / "v.mp4") == len(SAMPLE)  # folders made
    assert leftovers(tmp_path) == []


def test_download_stops_at_the_size_cap_and_leaves_nothing(make, server, tmp_path):
    client = make()
    target = tmp_path / "v.mp4"
    with pytest.raises(ResponseTooLargeError, match="larger than 1000 bytes"):
        client.download(video_url(server), target, limit=1000)  # told by Content-Length
    head = b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw = RawServer(head, chunked(b"x" * 700, b"y" * 700))  # no length: counted as read
    with raw, pytest.raises(ResponseTooLargeError):
        client.download(f"{raw.base_url}/v.mp4", target, limit=1000)
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_an_expired_link_is_one_line_and_keeps_the_old_file(make, server, tmp_path):
    client = make()
    target = tmp_path / "v.mp4"
    target.write_bytes(b"the file from before")
    with pytest.raises(NotFoundError) as caught:
        client.download(f"{server.base_url}/files/gone.mp4", target)
    err = caught.value
    assert err.status == 404 and "expired" in str(err) and "\n" not in str(err)
    assert "fresh link" in err.hint and "%glm" not in str(err) + err.hint  # api/ assumes no notebook
    assert len(err._render_traceback_()) <= 2
    assert target.read_bytes() == b"the file from before" and leftovers(tmp_path) == []


def test_a_dropped_body_leaves_no_partial_file(make, tmp_path):
    head = b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: 100000\r\n\r\n"
    raw = RawServer(head, [b"x" * 1000])
    with raw, pytest.raises(APIConnectionError, match="nothing was saved"):
        make().download(f"{raw.base_url}/v.mp4", tmp_path / "v.mp4")
    assert list(tmp_path.iterdir()) == []


def test_no_key_is_sent_with_a_download(make, canary, tmp_path):
    """Not to a CDN host, not after a redirect, not even to the client's own base URL."""
    body = b"video bytes"
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    with RawServer(ok, [body]) as cdn:
        moved = b"HTTP/1.1 302 Found\r\nLocation: %s/signed.mp4\r\nContent-Length: 0\r\n\r\n"
        with RawServer(moved % cdn.base_url.encode()) as own:
            client = make(api_key=canary, base_url=own.base_url)
            assert client.download(f"{cdn.base_url}/v.mp4", tmp_path / "a.mp4") == len(body)
            assert client.download(f"{own.base_url}/files/v.mp4", tmp_path / "b.mp4") == len(body)
        heads = own.heads + cdn.heads
    assert len(heads) == 3 and (tmp_path / "b.mp4").read_bytes() == body
    for head in heads:
        assert b"authorization" not in head.lower() and canary.encode() not in head


def test_only_http_links_are_downloaded(make, tmp_path):
    with pytest.raises(BadRequestError, match="only http"):
        make().download("zhipu-local:files/sample.mp4", tmp_path / "v.mp4")
    with pytest.raises(BadRequestError):
        make().download("file:///etc/passwd", tmp_path / "v.mp4")
    assert list(tmp_path.iterdir()) == []


# -- %glm result / wait -o FILE ---------------------------------------------------------------------


@pytest.fixture
def api(api, monkeypatch, tmp_path):
    """The magics on the fixture server, in an empty working directory."""
    monkeypatch.chdir(tmp_path)
    return api


def shown(ip) -> str:
    return "\n".join(c["data"].get("text/plain", "") for c in ip.rec.calls)


def finished_video(server) -> str:
    """A video task the server has finished (submitted elsewhere: not in this store yet)."""
    client = server.client()
    task_id = client.video("a paper boat")["id"]
    client.result(task_id)  # past the first poll's PROCESSING
    return task_id


def test_result_saves_the_video_in_the_working_directory(ip, api, tmp_path):
    names = set(ip.user_ns)
    task_id = finished_video(api)
    ip.run_line_magic("glm", f"result {task_id} -o video.mp4")
    assert (tmp_path / "video.mp4").read_bytes() == SAMPLE
    assert "Saved 25.6 KB to video.mp4" in shown(ip) and "replacing" not in shown(ip)
    assert set(ip.user_ns) - names <= {"_glm"}  # nothing bound under the file's name
    ip.run_line_magic("glm", f"result {task_id} -o out/clip.mp4")
    assert (tmp_path / "out" / "clip.mp4").read_bytes() == SAMPLE
    assert "Saved 25.6 KB to out/clip.mp4" in shown(ip)
    ip.run_line_magic("glm", f"wait {task_id} -o video.mp4")
    assert "Saved 25.6 KB to video.mp4, replacing the file that was there" in shown(ip)
    ip.run_line_magic("glm", f"result {task_id} -o link")  # a plain name binds the link, as before
    assert ip.user_ns["link"].endswith("/files/sample.mp4")
    assert leftovers(tmp_path) == []


def test_a_chat_task_saves_its_answer_as_text(ip, api, tmp_path):
    task_id = api.client().submit("echo: 你好, owls")["id"]
    ip.run_line_magic("glm", f"wait {task_id} -o answer.txt")
    assert (tmp_path / "answer.txt").read_text(encoding="utf-8") == ip.user_ns["_glm"].text == "你好, owls"
    assert f"Saved {len('你好, owls'.encode())} bytes to answer.txt" in shown(ip)
    ip.run_line_magic("glm", f"result {task_id} -o notes/answer.md")
    assert (tmp_path / "notes" / "answer.md").read_text(encoding="utf-8") == "你好, owls"


def test_a_pending_task_saves_nothing_yet(ip, canary, monkeypatch, tmp_path):
    from zhipu_magic.server import LocalServer

    with LocalServer(port=0, task_polls=1000) as srv:
        monkeypatch.setenv("ZHIPUAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("ZHIPUAI_API_KEY", canary)
        monkeypatch.chdir(tmp_path)
        task_id = srv.client().video("slow boat")["id"]
        ip.run_line_magic("glm", f"result {task_id} -o video.mp4")
    assert f"Nothing saved yet. Run %glm result {task_id} -o video.mp4 again later." in shown(ip)
    assert list(tmp_path.iterdir()) == []


def test_result_renews_an_expired_link(ip, api, tmp_path):
    """The stored link is dead; ``%glm result`` fetches the task again and saves from the fresh one,
    while ``%glm wait`` (no fetch for a finished task) says how to get a fresh link."""
    from zhipu_magic.core.tasks import get_store

    task_id = finished_video(api)
    stale = {"id": task_id, "task_status": "SUCCESS", "model": "cogvideox-flash"}
    stale["video_result"] = [{"url": "http://127.0.0.1:9/expired.mp4", "cover_image_url": ""}]
    store = get_store()
    store.record_submission({"id": task_id}, kind="video", model="cogvideox-flash", prompt="a paper boat")
    store.apply_result(task_id, stale)
    with pytest.raises(APIConnectionError):
        ip.run_line_magic("glm", f"wait {task_id} -o video.mp4")
    assert not (tmp_path / "video.mp4").exists()
    ip.run_line_magic("glm", f"result {task_id} -o video.mp4")
    assert (tmp_path / "video.mp4").read_bytes() == SAMPLE
    gone = dict(stale, id="gone-task")
    gone["video_result"] = [{"url": f"{api.base_url}/files/gone.mp4"}]
    store.record_submission(
        {"id": "gone-task"}, kind="video", model="cogvideox-flash", prompt="x", base_url=api.base_url
    )
    store.apply_result("gone-task", gone)
    with pytest.raises(NotFoundError) as caught:
        ip.run_line_magic("glm", "wait gone-task -o old.mp4")
    assert caught.value.hint.startswith("links expire: %glm result gone-task -o old.mp4")
    assert not (tmp_path / "old.mp4").exists() and leftovers(tmp_path) == []


def test_output_names_and_folders_are_checked_before_anything_is_sent(ip, api, tmp_path):
    sent = len(api.requests)
    for bad, match in (
        ("_5", "belongs to IPython"),
        ("In", "belongs to IPython"),
        ("my-file", "or a file name"),
    ):
        with pytest.raises(UsageError, match=match):
            ip.run_line_magic("glm", f"result some-task -o {bad}")
    (tmp_path / "out").mkdir()
    for folder in ("out/", "./", str(tmp_path / "out")):
        with pytest.raises(UsageError, match="folder"):
            ip.run_line_magic("glm", f"wait some-task -o {folder}")
    assert len(api.requests) == sent


def test_help_shows_the_file_output(ip):
    ip.run_line_magic("glm", "help")
    text = ip.rec.calls[-1]["data"]["text/plain"]
    assert "%glm result TASK_ID [-o NAME]" in text and "%glm wait TASK_ID [-o NAME]" in text
    assert "-o video.mp4 saves" in text
