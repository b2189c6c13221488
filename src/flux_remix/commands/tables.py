"""Tables that fit the terminal without cutting what you type next.

Every table command (`keys list`, `models`, `history`, `accounts`) describes its columns once:
an id column (a key id, an image id, a model name or alias, an account label) is never cut or
wrapped; the other columns wrap at word boundaries, and when the table still does not fit, the
least useful columns are left out, least useful first. `--json` always has everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

# Borders and padding rich needs per column (│ plus a space either side) and for the table.
_PER_COLUMN = 3
_TABLE = 1
_FOLD = 12  # a longer word in a wrapping column is folded rather than widen the table


@dataclass(frozen=True)
class Column:
    header: str
    is_id: bool = False  # typed again by the user: never cut, never wrapped
    drop: int = 0  # 0: always shown; else dropped when too narrow, the highest number first
    min_width: int = 0  # the narrowest it may wrap to (a prompt needs room to be read)
    no_wrap: bool = False  # short values (numbers, dates) stay on one line


def fit_table(
    console: Console, title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]]
) -> Table:
    """A table of `rows` (markup-escaped cells, one per column) that fits `console.width`."""
    shown = list(range(len(columns)))
    empty = {i for i in shown if not any(_plain(row[i]).strip() for row in rows)}
    droppable = sorted(  # empty columns first, then the least useful
        (i for i, c in enumerate(columns) if c.drop),
        key=lambda i: (i not in empty, -columns[i].drop),
    )
    while droppable and _narrowest(columns, rows, shown) > console.width:
        shown.remove(droppable.pop(0))
    table = Table(title=title)
    for i in shown:
        column = columns[i]
        if column.is_id:
            width = max((_widest_line(row[i]) for row in rows), default=0)
            table.add_column(column.header, no_wrap=True, overflow="fold", min_width=max(width, 2))
        else:
            table.add_column(
                column.header,
                no_wrap=column.no_wrap,
                overflow="fold",
                min_width=column.min_width or None,
            )
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    return table


def _narrowest(columns: Sequence[Column], rows: Sequence[Sequence[str]], shown: list[int]) -> int:
    """The width the shown columns need at least: ids and one-line columns in full (header
    too), the others their `min_width`, their header's longest word, or a short word (longer
    words fold)."""
    total = _TABLE
    for i in shown:
        column = columns[i]
        cells = [_plain(row[i]) for row in rows]
        if column.is_id or column.no_wrap:  # the header stays on one line too
            need = max([cell_len(column.header), *(_widest_line(c) for c in cells)])
        else:
            need = max(
                [
                    column.min_width,
                    _longest_word(column.header),
                    *(min(_longest_word(c), _FOLD) for c in cells),
                ]
            )
        total += need + _PER_COLUMN
    return total


def _plain(cell: str) -> str:
    return Text.from_markup(cell).plain


def _widest_line(cell: str) -> int:
    return max((cell_len(line) for line in _plain(cell).splitlines()), default=0)


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


ACCOUNT_COLUMNS = (  # `flux-remix accounts`
    Column("account", is_id=True),
    Column("state", no_wrap=True),
    Column("neurons used", drop=2, no_wrap=True),
    Column("left", no_wrap=True),
    Column("ok / failed", drop=3, no_wrap=True),
    Column("until", drop=4, min_width=10),
    Column("reason", drop=1, min_width=12),
)
