"""``python -m zhipu_magic.server`` and the ``zhipu-magic-server`` script: serve until Ctrl+C."""

from __future__ import annotations

import argparse
import sys
import time

from .app import LocalServer


def main(argv: list[str] | None = None) -> int:
    """Print the base URL on stdout (so a script can read it), then serve until Ctrl+C."""
    ap = argparse.ArgumentParser(prog="zhipu-magic-server", description="Local GLM-compatible API server.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    ap.add_argument("--key", default=None, help="accept only this API key (default: any key)")
    ap.add_argument("--rate", type=float, default=0.0, help="tokens per second (0 = as fast as possible)")
    ap.add_argument("--polls", type=int, default=1, help="PROCESSING answers before an async task finishes")
    ap.add_argument("--poll-delay", type=float, default=0.0, help="seconds before answering each poll")
    args = ap.parse_args(argv)
    srv = LocalServer(args.host, args.port, args.key, args.rate, args.polls, args.poll_delay).start()
    print(srv.base_url, flush=True)
    print(f"export ZHIPUAI_BASE_URL={srv.base_url}  (Ctrl+C to stop)", file=sys.stderr, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0
