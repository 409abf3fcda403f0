"""The ``%%glm`` grammar: its options, their checks, and the refusal of keys typed as options.

Mistakes become one-line ``UsageError``s before anything is sent. A key is never accepted as an
option, since the line would be saved in the notebook, in ``In`` and in the history; the refusal
never echoes what was typed.
"""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Callable, Sequence
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument

KEY_OPTIONS = ("--api-key", "--api_key", "--apikey", "--key", "--token", "--secret", "-k")
KEY_REFUSED = (
    "API keys are not accepted as options (they would be saved in the notebook and its history): "
    "set ZHIPUAI_API_KEY in the environment or run %glm login"
)

#: The options of ``%%glm``, in the order ``%%glm?`` lists them.
CELL_OPTIONS: tuple[Callable[[Any], Any], ...] = (
    argument("-m", "--model", help="model name (default: GLMMagics.model)"),
    argument("-s", "--system", help="system prompt"),
    argument("-t", "--temperature", type=float, help="sampling temperature, 0..1"),
    argument("--top-p", type=float, help="nucleus sampling, (0, 1]"),
    argument("--max-tokens", type=int, help="maximum answer tokens (>= 1)"),
    argument("-c", "--chat", metavar="NAME", help="continue the named conversation (re-runs replace)"),
    argument("--no-stream", action="store_true", help="one synchronous call instead of streaming"),
    argument("--async", dest="async_", action="store_true", help="submit as an async task; fetch it later"),
    argument(
        "--wait", action="store_true", help="with --async/--video: poll until done, then show the answer"
    ),
    argument("--video", action="store_true", help="generate a video from the cell (async; cogvideox models)"),
    argument("--draw", action="store_true", help="generate an image from the cell (cogview-3-flash)"),
    argument("--think", dest="think", action="store_true", default=None, help="thinking mode on"),
    argument("--no-think", dest="think", action="store_false", help="thinking mode off"),
    argument("-o", "--output", metavar="NAME", help="also bind the answer text (or --json object) to NAME"),
    argument("--image", action="append", metavar="PATH_OR_URL", help="attach an image (repeatable)"),
    argument("--fig", action="store_true", help="attach the current matplotlib figure (also {fig})"),
    argument(
        "--code",
        nargs="?",
        const="first",
        choices=("first", "all"),
        help="put the answer's first code block (or all) into a new cell below, not run",
    ),
    argument("--dry-run", action="store_true", help="show the exact request JSON; send nothing"),
    argument("--json", action="store_true", help="JSON mode; the bound value is the parsed object"),
    argument("--replay", action="store_true", help="answer from the call log if this exact request is there"),
    argument("--fresh", action="store_true", help="send the request even when replay is on"),
    argument("--map", metavar="NAME", help="ask the cell once per row of list/Series/DataFrame NAME"),
    argument("--concurrency", type=int, metavar="N", help="with --map: requests at once at most (default 8)"),
    argument("--batch", action="store_true", help="with --map: through the Batch API (half price, slower)"),
    argument("--tools", metavar="F,G", help="functions the model may call (names, or all: the @tool ones)"),
    argument("--max-rounds", type=int, metavar="N", help="with --tools: model calls at most (default 5)"),
    argument("--confirm", action="store_true", help="with --tools: ask y/n before each function call"),
    argument("--search", action="store_true", help="let the model search the web; sources under the answer"),
    argument("--recency", metavar="WHEN", help="with --search: oneDay, oneWeek, oneMonth, oneYear, noLimit"),
    argument("--domain", metavar="SITE", help="with --search: only results from this site"),
)


def cell_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Apply :data:`CELL_OPTIONS` to the magic (as a stack of ``@argument`` lines would)."""
    for option in reversed(CELL_OPTIONS):
        func = option(func)
    return func


def is_key_option(token: str) -> bool:
    head = token.split("=", 1)[0].lower()
    return head in KEY_OPTIONS or (token.startswith("-k") and not token.startswith("--"))


def refuse_keys(argv: Sequence[str]) -> None:
    """A key typed as an option (``--api-key``, ``-k...``, ``key=`` ...) stops here, unechoed."""
    if any(is_key_option(tok) for tok in argv):
        raise UsageError(KEY_REFUSED)


def parse_cell_line(parser: Any, argv: list[str]) -> Any:
    """The ``%%glm`` line as checked options; raises a one-line ``UsageError`` otherwise."""
    refuse_keys(argv)
    args, extra = parser.parse_known_args(argv)
    if extra:
        raise UsageError(_unknown(parser, extra))
    _in_range("temperature", args.temperature, low_open=False)
    _in_range("top-p", args.top_p, low_open=True)
    if args.max_tokens is not None and args.max_tokens < 1:
        raise UsageError(f"max-tokens must be at least 1, got {args.max_tokens}")
    if args.map is None:  # with --map, -o df.column is checked by the map flow
        check_output_name(args.output)
    if args.map is None and (args.batch or args.concurrency is not None):
        raise UsageError("--batch and --concurrency go with --map NAME")
    if args.wait or args.video:
        args.async_ = True  # both are async tasks underneath
    if args.async_ and args.no_stream:
        raise UsageError("--async and --no-stream do not go together")
    if args.replay and args.fresh:
        raise UsageError("--replay and --fresh do not go together")
    return args


def _unknown(parser: Any, extra: list[str]) -> str:
    """Name the first unknown option (and the option it probably meant), never the values: they
    may be secrets."""
    options = [tok.split("=", 1)[0] for tok in extra if tok.startswith("-")]
    if not options:
        return "unexpected argument (the prompt goes below %%glm, in the cell; options: %%glm?)"
    known = [flag for action in parser._actions for flag in action.option_strings]
    close = difflib.get_close_matches(options[0], known, n=1, cutoff=0.75)
    meant = f": did you mean {close[0]}?" if close else ""
    return f"unknown option {options[0][:40]}{meant} (options: %%glm?)"


#: Names ``-o`` must not take: IPython's own (rebinding them breaks the next cell) and ``_glm``.
RESERVED_NAMES = frozenset(
    {"In", "Out", "_", "__", "___", "_i", "_ii", "_iii", "_ih", "_oh", "_dh", "_glm",
     "exit", "quit", "get_ipython", "display"}
)  # fmt: skip


def check_output_name(name: str | None) -> str | None:
    """``-o NAME``: a plain variable name that is not a keyword or one of IPython's own names."""
    if name is None:
        return None
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError("-o needs a Python variable name")
    reserved = name in RESERVED_NAMES or (name.startswith("__") and name.endswith("__"))
    if reserved or re.fullmatch(r"_i{0,3}\d+|_\d+", name):
        raise UsageError(f"-o {name}: that name belongs to IPython; pick another, e.g. -o answer")
    return name


def _in_range(name: str, value: float | None, *, low_open: bool) -> None:
    if value is None:
        return
    if low_open and not (0 < value <= 1):
        raise UsageError(f"{name} must be in (0, 1], got {value}")
    if not low_open and not (0 <= value <= 1):
        raise UsageError(f"{name} must be in [0, 1], got {value}")


def request_params(args: Any, defaults: Any) -> dict[str, Any]:
    """The request's optional parameters: the option when given, else the magic's trait."""
    think = args.think if args.think is not None else defaults.thinking
    params: dict[str, Any] = {
        "temperature": args.temperature if args.temperature is not None else defaults.temperature,
        "top_p": args.top_p if args.top_p is not None else defaults.top_p,
        "max_tokens": args.max_tokens if args.max_tokens is not None else defaults.max_tokens,
    }
    if think is not None:
        params["thinking"] = {"type": "enabled" if think else "disabled"}
    if args.json:
        params["response_format"] = {"type": "json_object"}
    return {k: v for k, v in params.items() if v is not None}
