"""Helpers shared by the store commands (ingest, forget, export, viz, stats)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from phago.cli.common import console, error_message
from phago.errors import DocumentError, PhagoError

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
    """A CLI error (exit status 1) carrying the message of ``exc`` (:func:`error_message`)."""
    return click.ClickException(error_message(exc))


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
            f"waiting for another phago process writing {db} …",
            highlight=False,
            soft_wrap=True,
            markup=False,
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


_DOCUMENT_ID = re.compile(r"^(0[xX][0-9a-fA-F]+|[0-9]+)$")


def parsed_number(text: str) -> int | None:
    """``text`` as a whole number written in decimal or ``0x`` hex (of any size), or None
    where it is not one (a path, say).

    Example:
        >>> parsed_number("0x1f"), parsed_number(" 31 "), parsed_number("notes/a.txt")
        (31, 31, None)
    """
    t = text.strip()
    if not _DOCUMENT_ID.match(t):
        return None
    return int(t, 16) if t[:2].lower() == "0x" else int(t)


def document_id_of(text: str) -> int:
    """A document id written as decimal or ``0x`` hex, or :class:`DocumentError`.

    Example:
        >>> document_id_of("0x1f"), document_id_of("31")
        (31, 31)
    """
    value = parsed_number(text)
    if value is None:
        raise DocumentError(f"{text!r} is not a document id (decimal, or 0x hex)")
    if value >> 64:
        raise DocumentError(f"{text}: beyond the document ids, whole numbers in [0, 2**64)")
    return value
