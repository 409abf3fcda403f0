"""``%%glm --map NAME``: the cell is a template asked once per row of ``NAME`` (a list, a Series or
a DataFrame in the user namespace), with the live progress of :mod:`.map_view`.

``_glm`` and ``-o RESULT`` get the aligned result (a :class:`~zhipu_magic.core.mapping.MapResult`, or
a Series for pandas input); ``-o df.column`` with ``--map df`` adds the answers as a column of the
DataFrame. With ``--batch`` each batch shows its card while the cell waits (status, counts, Refresh,
Cancel), a static card once the run ends. Everything is checked before the first request. An
interrupt shows and binds the partial result, then stops the cell (so Run All stops too); the
progress's Stop button does the same without stopping the cell (the result is marked ``stopped``; a
batch runs on, and the line says how to collect or cancel it).
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from ..core.mapping import map_rows
from ..core.mapping.data import is_pandas
from . import render
from .map_view import ProgressView, progress_view
from .options import check_output_name, request_params

DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 64


def run_map(magics: Any, args: Any, cell: str) -> None:
    """Everything ``%%glm --map NAME ...`` does with ``cell``."""
    template = cell.strip()
    if not template:
        raise UsageError("the cell is empty: write the prompt template below %%glm --map NAME")
    data = _data(magics, args.map)
    column = _target(args, data)
    if args.async_ or args.chat or args.dry_run:
        raise UsageError("--map does not go with --async, --video, --chat or --dry-run")
    concurrency = DEFAULT_CONCURRENCY if args.concurrency is None else args.concurrency
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise UsageError(f"--concurrency must be between 1 and {MAX_CONCURRENCY}, got {concurrency}")
    params = request_params(args, magics)
    params.pop("response_format", None)  # --json: map asks for it and parses each row
    client, local = magics.connect()
    notice = magics.local_notice(local)
    if notice:
        render.show(render.text_bundle(notice))
    view = progress_view(magics.shell) or ProgressView(rich=render.is_rich_frontend())
    system = args.system if args.system is not None else magics.system
    cards = _batch_cards(client) if args.batch and view.rich else None
    try:
        result = map_rows(
            template, data, model=args.model or magics.model, system=system, json=args.json,
            concurrency=concurrency, client=client, progress=view, log=bool(magics.log), batch=args.batch,
            batch_poll=0.2 if local else 5.0, stop=view.stop_event, on_batch=cards.add if cards else None,
            log_context={"cell_id": magics.current_cell_id(), "notebook": magics.notebook_path()}, **params,
        )  # fmt: skip
    finally:
        if cards is not None:
            cards.finish()  # static cards: the saved notebook holds no widget
    report = result.attrs["glm_map"] if is_pandas(result, "Series") else result
    _bind(magics, args, data, column, result)
    if report.notes:
        render.show(render.text_bundle("\n".join(report.notes)))
    if report.stopped == "interrupted":
        raise KeyboardInterrupt


def _batch_cards(client: Any) -> Any:
    """The live cards of the batches a ``--batch`` run creates (ipywidgets loads here)."""
    from .widgets.batch_card import RunCards

    return RunCards(client)


def _data(magics: Any, name: str) -> Any:
    ns = magics.shell.user_ns if magics.shell is not None else {}
    if not name.isidentifier() or name not in ns:
        raise UsageError(f"--map {name[:40]}: no such variable (a list, a Series or a DataFrame)")
    data = ns[name]
    if isinstance(data, (str, bytes, dict)) or not hasattr(data, "__iter__"):
        raise UsageError(f"--map {name}: a list, a Series or a DataFrame, not {type(data).__name__}")
    return data


def _target(args: Any, data: Any) -> str | None:
    """The column of ``-o df.column`` (checked now, before anything is sent), else None."""
    output = args.output
    if output is None or "." not in output:
        check_output_name(output)
        return None
    owner, _, column = output.partition(".")
    if owner != args.map or not column.isidentifier() or not is_pandas(data, "DataFrame"):
        raise UsageError(
            f"-o {output[:60]}: NAME.column adds a column to the DataFrame given to --map ({args.map})"
        )
    return column


def _bind(magics: Any, args: Any, data: Any, column: str | None, result: Any) -> None:
    magics.bind("_glm", result)
    if column is not None:
        data[column] = result
    elif args.output:
        magics.bind(args.output, result)
