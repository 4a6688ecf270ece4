"""Output for people (rich tables, spinners on stderr) and for scripts (``--json``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import msgspec
from rich.table import Column, Table

from paastech_cli.runtime import current


def print_json(value: Any) -> None:
    """Pretty JSON of Structs, lists and dicts on stdout."""
    data = msgspec.json.format(msgspec.json.encode(value), indent=2).decode()
    current().stdout.write(data + "\n")


def say(message: str) -> None:
    """A line for people on stdout (rich markup allowed)."""
    current().console.print(message, soft_wrap=True)


def note(message: str) -> None:
    """A side remark on stderr, so stdout stays clean for pipes."""
    current().err_console.print(message, soft_wrap=True)


@contextmanager
def spinner(message: str) -> Iterator[None]:
    """A spinner on stderr while waiting (only on a terminal; silent in pipes and tests)."""
    console = current().err_console
    if not console.is_terminal:
        yield
        return
    with console.status(message):
        yield


def table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str = "", header: bool = True
) -> None:
    """A table on stdout; ``empty`` is printed (on stderr) instead when there are no rows."""
    grid = Table(
        *(_column(name) for name in columns),
        box=None,
        header_style="bold",
        pad_edge=False,
        show_header=header,
    )
    count = 0
    for row in rows:
        grid.add_row(*(cell(value) for value in row))
        count += 1
    if count == 0 and empty:
        note(empty)
        return
    current().table_console.print(grid)


# Free text may wrap on a narrow terminal; everything else (IDs to copy, times) stays whole.
_WRAPPING = {"DESCRIPTION", "ERROR", "TARGET", "VALUE"}


def _column(name: str) -> Column:
    if name in _WRAPPING:
        return Column(name, overflow="fold")
    return Column(name, no_wrap=True, overflow="fold")


def cell(value: Any) -> str:
    """A value as a table cell: times in UTC without microseconds, None as a dash."""
    if value is None or value == "":
        return "-"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
