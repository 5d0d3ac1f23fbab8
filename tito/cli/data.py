"""`tito data`: which datasets are here, and getting the ones that are not."""

from pathlib import Path
from typing import Annotated

import typer

from tito.cli.options import JsonOpt

app = typer.Typer(no_args_is_help=True, help="Datasets: list them, download them.")

DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder to use instead of the cache ($TINYTORCH_DATA or a per-user one).",
        show_default=False,
    ),
]


@app.command("list")
def list_(data_dir: DataDirOpt = None, json: JsonOpt = False):
    """Show each dataset: whether it is present, where, and its size."""
    from tito import ui
    from tito.datasets import status

    rows = status(data_dir)
    if json:
        ui.emit_json([{**r._asdict(), "path": str(r.path)} for r in rows])
        return
    table = [
        [
            r.name,
            ui.mark(r.present),
            str(r.path),
            _size(r.size_bytes) if r.present else f"{_size(r.expected_bytes)} to get",
        ]
        for r in rows
    ]
    ui.table("Datasets", ["name", "present", "path", "size"], table)


@app.command("download")
def download(
    name: Annotated[str, typer.Argument(help="Dataset name, e.g. cifar10.")],
    data_dir: DataDirOpt = None,
):
    """Download NAME, check its md5, and unpack it into the cache (or --data-dir)."""
    from tito import ui
    from tito.datasets.cache import data_home
    from tito.datasets.store import dataset, ensure, find

    ds = dataset(name)
    root = data_dir or data_home()
    found = find(ds, root)
    if found is not None:
        ui.say(f"{ds.name} is already here: {found}")
        return
    path = ensure(ds, root)
    ui.say(ui.mark(True), f" {ds.name} is in {path}")


def _size(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"
