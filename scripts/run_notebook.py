"""Run a notebook top to bottom in a real kernel and print what a reader would see.

Used by ``scripts/quickstart.sh`` and the notebook tests. With no API key in the environment the
magics answer from zhipu_magic's built-in local server, so this needs no network. The kernel gets
``ZHIPU_MAGIC_LOCAL_DIRECTIVES=1`` (unless ``--no-directives``): that server ignores ``[[fault:...]]``
and the other directives unless asked, and the tutorials demonstrate them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def plain_outputs(cell: nbformat.NotebookNode) -> list[str]:
    """The text a person would read in a cell's outputs (plain-text forms only). Consecutive pieces
    of one stream are joined, as a front end shows them: a kernel may flush a print mid-line."""
    texts: list[str] = []
    previous = None
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            if previous is not None and previous.output_type == "stream" and previous.name == out.name:
                texts[-1] += out.text
            else:
                texts.append(out.text)
        elif out.output_type in ("display_data", "execute_result"):
            data = out.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                texts.append("[widget] " + data.get("text/plain", ""))
            else:
                texts.append(data.get("text/plain", ""))
        elif out.output_type == "error":
            texts.append(f"{out.ename}: {out.evalue}")
        previous = out
    return texts


DIRECTIVES_ENV = "ZHIPU_MAGIC_LOCAL_DIRECTIVES"  # zhipu_magic.server.app.DIRECTIVES_ENV


def execute(
    path: Path, *, timeout: int = 180, save: Path | None = None, directives: bool = True
) -> nbformat.NotebookNode:
    """Execute ``path`` in a fresh python3 kernel whose working directory is the notebook's folder;
    ``directives``: the built-in server obeys the ``[[...]]`` directives the tutorials demonstrate."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        extra_arguments=["--IPKernelApp.log_level=ERROR"],  # not its TCP-on-loopback warning
        resources={"metadata": {"path": str(path.parent)}},
    )
    env = dict(os.environ)
    if directives:
        env[DIRECTIVES_ENV] = "1"
    client.execute(env=env)
    if save is not None:
        nbformat.write(nb, save)
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--save", type=Path, help="write the executed notebook here")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument(
        "--no-directives", action="store_true", help="the local server ignores [[fault:...]] directives"
    )
    args = parser.parse_args(argv)
    try:
        nb = execute(args.notebook, save=args.save, directives=not args.no_directives)
    except CellExecutionError as err:
        print(f"{args.notebook}: a cell failed:\n{err}", file=sys.stderr)
        return 1
    if not args.quiet:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            print(f"\n>>> {cell.source.strip()}")
            for text in plain_outputs(cell):
                print(text.rstrip())
    print(f"\n{args.notebook}: ran {sum(c.cell_type == 'code' for c in nb.cells)} code cells, no errors.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
