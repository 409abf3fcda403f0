"""A local GLM-compatible server (Zhipu BigModel / Z.ai API v4) for offline demos, tests and faults.

Standard library only. It speaks the real wire format under `/api/paas/v4`: chat completions (sync,
and SSE streams over HTTP/1.1 chunked encoding, one chunk per event, sent at once), async chat
tasks, CogVideoX-style video tasks whose result URLs point back at this server, embeddings,
tokenizer, image generation and a model list. Answers are deterministic (derived from the prompt)
and exercise a renderer: Markdown, code, a table, math, Chinese text, emoji.

Run it:

    python -m zhipu_magic.server [--host 127.0.0.1] [--port 8765] [--key K] [--rate TOKENS_PER_S]
    export ZHIPUAI_BASE_URL=http://127.0.0.1:8765/api/paas/v4 ZHIPUAI_API_KEY=any.key

or in Python: `with LocalServer(port=0) as srv: ...` and point a client at `srv.base_url`.
The magics use `start_local_server()` (one shared instance, ~40 tokens/s so streaming is visible;
`ZHIPU_MAGIC_LOCAL_RATE` overrides).

**Auth.** `Authorization: Bearer <key>` or the bare key. Missing or empty: 401/1001. Without
`--key` any key is accepted; with it, another key gives 401/1000 (an SDK-style HS256 JWT signed with
the key's secret is accepted too; bad signature 401/1002, expired 401/1003). The video and cover
files under `/files/` need no key, like the real CDN links.

**Answers** (from the last user message; deterministic, so tests and demos are stable):

- `echo: TEXT`: the answer is exactly TEXT. "hi" / "你好": a short greeting.
- Shaped by what the prompt asks for: a haiku / poem / limerick (3, 5 or N lines), a story (N
  sentences), N bullet points or items, an explanation (heading and list), a summary in N sentences,
  a table (or an A-vs-B comparison), code, math (a real primality check, arithmetic, a proof), a
  translation. Chinese prompts get Chinese answers. Anything else gets a full Markdown demo
  (heading, list, code block, table, `$E=mc^2$`, `$$...$$`, Chinese, emoji). "Long story" is long.
- The whole request counts, not only the last message: facts the user stated earlier ("My name is
  Ada") are recalled when asked, later turns quote the earlier ones, "which of those" picks from the
  previous answer; a system prompt is acknowledged and simple ones obeyed (terse, one sentence, a
  language, a pirate).
- `response_format: {"type": "json_object"}`: a JSON object with exactly the keys the prompt (or the
  system prompt) names, values shaped by the key; with none named, the list the prompt names.
- Function `tools` and a user message last: the model calls the first tool; after a `tool` message
  it answers from the tool result.
- Reasoning models (glm-4.5*, glm-4.6*, glm-4.7*, glm-4.5v, glm-4.6v, ...) stream
  `reasoning_content` first unless `"thinking": {"type": "disabled"}`; glm-z1-* put the reasoning
  inside `content` as `<think>...</think>`. `max_tokens` cuts the answer (finish_reason `length`).

**Directives** (anywhere in the last user message, or in a video prompt; stripped from the answer):

- `[[chunks:N]]`: stream exactly N content chunks.
- `[[interval:SECONDS]]`: fixed delay between stream chunks (instead of the token rate).
- `[[fault:auth]]`: 401, code 1000.
- `[[fault:bad_param]]`: 400, code 1214.
- `[[fault:filter]]`: 400, code 1301, with `"contentFilter": [{"level": 1, "role": "user"}]`.
- `[[fault:rate_limit]]`, `[[fault:rate_limit:S]]`: 429, code 1302, `Retry-After: S` (default 1;
  S is sent verbatim, so `abc` or an HTTP date work too). Only the first attempt of that exact
  request body fails.
- `[[fault:rate_limit_ms:MS]]`: the same with a `retry-after-ms: MS` header.
- `[[fault:balance]]`: 429, code 1113 (insufficient balance). `[[fault:daily]]`: 429, code 1304.
- `[[fault:server_error]]`, `[[fault:server_error:N]]`: 500, code "500", for the first N attempts
  of that body (default 1), then success.
- `[[fault:unavailable:N]]`: 503, code 1305, for the first N attempts (default 1).
- `[[fault:bad_gateway]]`: 502 with an nginx-style HTML page, every time (`:N`: first N attempts).
- `[[fault:slow_first:S]]`: wait S seconds before sending anything, status line included.
- `[[fault:stall:S]]`: stream pauses S seconds halfway through the content.
- `[[fault:drop]]`: stream: the socket is closed halfway (no terminating chunk); a non-stream
  request: closed without any response.
- `[[fault:error_frame]]`, `[[fault:error_frame:CODE]]`: halfway, an in-band
  `data: {"error":{"code":"1301",...}}` frame, then the body ends (no `[DONE]`).
- `[[fault:garbage]]` / `[[fault:no_choices]]`: halfway, a non-JSON `data:` line / a JSON frame
  without `choices`, then the body ends.
- `[[fault:no_done]]`: the body ends cleanly with neither the final chunk nor `[DONE]`;
  `[[fault:no_done:finish]]` sends the final chunk and omits only `[DONE]`.
- `[[fault:sensitive]]`, `[[fault:length]]`: the answer is cut halfway with that finish_reason.
- `[[fault:hostile]]`: the answer contains `<script>`, `<img onerror>`, `<svg onload>`, a
  `javascript:` link, a remote image and a bare URL line.
- `[[fault:task_fail]]`: the async task (chat or video) ends with `task_status: FAIL`.

"First N attempts" are counted per identical request body; once it succeeds the count resets, so
re-running a cell shows the same failure-then-retry pattern. An unknown directive gives 400/1214.

**Other errors.** Unknown model 400/1211; a model that cannot do the call (video model on chat,
chat model on videos, embedding model on chat) 400/1212; missing field 400/1213; invalid field
(empty messages, temperature outside [0, 1], ...) 400/1214; body not a JSON object 400/1210;
unknown path or unknown task id 404/1222. Error bodies are
`{"error": {"code": "<string>", "message": "..."}, "request_id": "..."}`.

**Async tasks** answer `PROCESSING` for `task_polls` polls, then `SUCCESS` (or `FAIL`); each poll
first waits `poll_delay` seconds (polls are served concurrently).

**For tests.** `srv.requests` (method, path, parsed body; never the Authorization header),
`srv.disconnects` and `srv.wait_disconnect(timeout)` (a streaming client went away),
`srv.last_write_times` (`time.perf_counter()` after each frame of the latest stream, `[DONE]`
included).

**Layout.** `app` (LocalServer: start, stop, the shared instance), `state` (what request threads
share), `handler` (HTTP plumbing and the route table), `chat` and `endpoints` (the routes), `faults`,
`checks`, `wire` (what the handler and routes share), `cli`, and `answers/` (the deterministic
replies). Each module imports only those below it; this package only re-exports.
"""

from __future__ import annotations

from .app import LocalServer, is_builtin, start_local_server
from .cli import main
from .state import RequestRecord

__all__ = ["LocalServer", "RequestRecord", "is_builtin", "main", "start_local_server"]
