"""Helpers shared by the store commands (ingest, forget, export, viz, stats)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from phago.cli.common import console
from phago.errors import PhagoError

if TYPE_CHECKING:
    from phago.export import GraphTable

F = TypeVar("F", bound=Callable[..., Any])

SPARK = "▁▂▃▄▅▆▇█"


def db_option(required: bool = True, exists: bool = True) -> Callable[[F], F]:
    """The ``--db`` option: a store file, or a distributed store folder."""
    return click.option(
        "--db",
        "db",
        required=required,
        type=click.Path(path_type=Path, exists=exists),
        help="The store: a file, or a folder holding a distributed colony.",
    )


def fail(exc: BaseException) -> click.ClickException:
    """A CLI error (exit status 1) carrying the message of ``exc``."""
    return click.ClickException(str(exc))


@contextlib.contextmanager
def writing(db: Path) -> Iterator[None]:
    """Hold the store ``db`` for writing from loading it to saving it back (see
    :func:`phago.store.store_lock`), so that two commands changing one store take turns
    instead of one losing the other's changes; says on stderr when it has to wait.

    Raises:
        StoreError: the store is read-only, or its folder does not exist.
    """

    from phago.store import store_lock

    def waiting() -> None:
        console.print(
            f"waiting for another phago process writing {db} …", highlight=False, soft_wrap=True
        )

    with store_lock(db, on_wait=waiting):
        yield


def open_table(db: Path) -> GraphTable:
    """The graph stored at ``db``; store errors become CLI errors."""
    from phago.export import GraphTable

    try:
        return GraphTable.from_store(db)
    except PhagoError as exc:
        raise fail(exc) from exc


def is_distributed(db: Path) -> bool:
    """True if ``db`` is a distributed store folder."""
    from phago.store import is_distributed_store

    return is_distributed_store(db)


def sparkline(values: Sequence[float], width: int = 40) -> str:
    """A one-line chart of ``values`` (resampled to at most ``width`` characters).

    Example:
        >>> sparkline([0, 1, 2, 3, 4, 5, 6, 7])
        '▁▂▃▄▅▆▇█'
        >>> sparkline([])
        ''
    """
    if not values:
        return ""
    n = len(values)
    if n > width:
        values = [values[min(n - 1, round(i * (n - 1) / (width - 1)))] for i in range(width)]
    lo, hi = min(values), max(values)
    if hi == lo:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(7, int((v - lo) / (hi - lo) * 7 + 0.5))] for v in values)
