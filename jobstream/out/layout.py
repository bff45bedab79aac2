"""Tables for people: fit the terminal's width, colour statuses, draw text bars.

Only the ``table`` format uses this module (the sinks import it when they write a table),
so the machine formats never pay for it.  What the reader's screen can show is one value,
:class:`Screen`: its width (``None`` for a file or a pipe, which get every column at full
width), whether to colour, and whether its encoding has ``…`` and the block characters.

Cells arrive already made safe by :func:`jobstream.out.sinks.printable`; colour codes are added
after a cell is cut and padded, so they never count towards a column's width.
"""

from __future__ import annotations

import functools
import os
import shutil
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "COLORS",
    "STATUS_COLORS",
    "Screen",
    "screen_for",
    "use_color",
    "display_width",
    "truncate",
    "pad",
    "bar",
    "Column",
    "fit",
    "render",
]

#: What ``--color`` takes.
COLORS = ("auto", "always", "never")

#: SGR colour of each status: done well green, failed red, cancelled yellow, running blue,
#: on its way (queued, validating) cyan.  Unknown statuses stay plain.
STATUS_COLORS = {
    "SUCCESS": "32",
    "FAILED": "31",
    "FAILED_VALIDATION": "31",
    "CANCELLED": "33",
    "CANCELLATION_REQUESTED": "33",
    "RUNNING": "34",
    "QUEUED": "36",
    "STARTED": "36",
    "VALIDATING": "36",
    "VALIDATED": "36",
}

# A bar's last cell in eighths, as DuckDB's bar() draws it.
_EIGHTHS = " ▏▎▍▌▋▊▉"
_BLOCK = "█"


def _isatty(out: Any) -> bool:
    try:
        return bool(out.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def use_color(out: Any, color: str = "auto") -> bool:
    """Whether to colour what goes to *out*: ``always``, ``never``, or ``auto``: only on a
    terminal, and not when ``NO_COLOR`` is set (https://no-color.org) or ``TERM=dumb``.
    An explicit ``--color always`` wins over ``NO_COLOR``, as that convention asks."""
    if color not in COLORS:
        raise ValueError(f"unknown color mode {color!r}: choose one of {', '.join(COLORS)}")
    if color != "auto":
        return color == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(out)


@dataclass(frozen=True)
class Screen:
    """What the reader's screen can show.

    ``width`` is the columns a line may take (None: no limit, as for a file or a pipe);
    ``color`` whether statuses are coloured; ``encoding`` the output's encoding: when it
    cannot encode ``…`` and ``█``, cuts end in ``...``, bars are ``#`` and other non-ASCII
    text is escaped (``\\xe8``) before it is measured, so columns stay aligned.
    """

    width: int | None = None
    color: bool = False
    encoding: str = "utf-8"

    @functools.cached_property
    def unicode(self) -> bool:
        try:
            ("…" + _BLOCK + _EIGHTHS).encode(self.encoding)
        except (UnicodeEncodeError, LookupError):
            return False
        return True

    @functools.cached_property
    def ellipsis(self) -> str:
        return "…" if self.unicode else "..."

    def text(self, cell: str) -> str:
        """*cell* as the output's encoding can write it (escaped where it cannot)."""
        if cell.isascii() or self.unicode:
            return cell
        try:
            return cell.encode(self.encoding, "backslashreplace").decode(self.encoding)
        except LookupError:
            return cell

    def paint(self, text: str, status: str | None) -> str:
        """*text* in the colour of *status* (plain when colour is off or the status unknown)."""
        code = STATUS_COLORS.get(status or "") if self.color else None
        return f"\x1b[{code}m{text}\x1b[0m" if code and text else text


def screen_for(out: Any, color: str = "auto", width: int | None = None) -> Screen:
    """The :class:`Screen` of stream *out*.  *width* None: the terminal's when *out* is one
    (``shutil.get_terminal_size``, so ``COLUMNS`` overrides it), else no limit; 0: no limit."""
    if width is None:
        width = shutil.get_terminal_size().columns if _isatty(out) else 0
    encoding = getattr(out, "encoding", None) or "utf-8"
    return Screen(width=width if width and width > 0 else None, color=use_color(out, color), encoding=encoding)


def display_width(text: str) -> int:
    """Terminal columns *text* takes: wide (CJK) characters count two, combining marks none."""
    if text.isascii():
        return len(text)
    w = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return w


def truncate(text: str, width: int, ellipsis: str = "…") -> str:
    """*text* cut to *width* columns, ending in *ellipsis* when anything was cut."""
    if display_width(text) <= width:
        return text
    room = width - display_width(ellipsis)
    if room < 0:
        return ellipsis[:width]
    out, used = [], 0
    for ch in text:
        w = display_width(ch)
        if used + w > room:
            break
        out.append(ch)
        used += w
    return "".join(out) + ellipsis


def pad(text: str, width: int, right: bool = False) -> str:
    """*text* padded with spaces to *width* columns (right-aligned if *right*)."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def bar(value: float, top: float, width: int, screen: Screen = Screen()) -> str:
    """A bar for *value* on a scale where *top* fills *width* columns, in eighths of a column
    (``#`` per column when the encoding has no block characters).  Any value above 0 shows."""
    if top <= 0 or value <= 0 or width <= 0:
        return ""
    cells = min(value / top, 1.0) * width
    if not screen.unicode:
        return "#" * max(1, round(cells))
    full = int(cells)
    eighths = int((cells - full) * 8)
    text = _BLOCK * full + (_EIGHTHS[eighths] if eighths else "")
    return text or _EIGHTHS[1]


@dataclass
class Column:
    """One column of a table for people.

    ``fixed`` cells are never cut (numbers, times, durations): to fit, such a column is
    hidden instead.  ``floor`` is the narrowest any other column gets (its long cells end in
    ``…``).  ``right`` aligns right.  ``status`` cells are coloured.
    """

    title: str
    cells: list[str]
    fixed: bool = False
    right: bool = False
    status: bool = False
    floor: int = 16
    natural: int = 0  # full width; computed from title and cells when 0

    def __post_init__(self) -> None:
        if not self.natural:
            self.natural = max([1, display_width(self.title), *map(display_width, self.cells)])

    @property
    def least(self) -> int:
        """The narrowest this column can be."""
        if self.fixed:
            return self.natural
        return min(self.natural, self.floor)


def fit(
    columns: Sequence[Column], width: int | None, *, keep: Sequence[int] = (), sep: int = 2, marker: int = 1
) -> tuple[list[int], list[int]]:
    """Column widths for a line of at most *width* columns: ``(widths, hidden)``.

    Columns are shown in *keep* order (the most important first; the others follow left to
    right) for as long as each fits at its narrowest; the rest are hidden and a *marker*
    column (that many characters wide) says so.  Then the shown columns share the space: the widest are cut first,
    down to their floor, and any space left goes back to cut columns.  With no *width*
    every column gets its full width.  ``widths[i]`` is 0 for a hidden column.
    """
    n = len(columns)
    if width is None:
        return [c.natural for c in columns], []
    order = [i for i in keep if 0 <= i < n]
    order += [i for i in range(n) if i not in order]
    if sum(c.least for c in columns) + sep * (n - 1) <= width:
        shown = list(order)
    else:  # some must go: keep room for the marker
        shown = []
        for i in order:
            need = sum(columns[j].least for j in shown) + columns[i].least + sep * len(shown)
            if shown and need + sep + marker > width:
                break
            shown.append(i)
    hidden = [i for i in range(n) if i not in shown]
    room = width - sep * (len(shown) - 1) - (sep + marker if hidden else 0)
    widths = [0] * n

    def clamp(i: int, cap: int) -> int:
        c = columns[i]
        return max(c.least, min(c.natural, cap))

    top = max((columns[i].natural for i in shown), default=0)
    if sum(clamp(i, top) for i in shown) <= room:
        cap = top
    else:
        lo, hi = 0, top  # the widest cap whose total fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if sum(clamp(i, mid) for i in shown) <= room:
                lo = mid
            else:
                hi = mid - 1
        cap = lo
    for i in shown:
        widths[i] = clamp(i, cap)
    spare = room - sum(widths[i] for i in shown)
    for i in shown:  # the cap's remainder, left to right
        if spare <= 0:
            break
        if widths[i] < columns[i].natural:
            add = min(spare, columns[i].natural - widths[i])
            widths[i] += add
            spare -= add
    if len(shown) == 1 and widths[shown[0]] > room and not columns[shown[0]].fixed:
        widths[shown[0]] = max(1, room)  # one column, wider than the screen: cut it
    return widths, hidden


def render(
    columns: Sequence[Column],
    widths: Sequence[int],
    screen: Screen,
    cells: Sequence[str] | None,
    *,
    sep: int = 2,
    marker: bool = False,
    cut: bool = True,
) -> str:
    """One line of *columns* at *widths*: the titles (*cells* None) or *cells*, one per
    column, cut to width (unless not *cut*: then a long cell pushes the rest right), padded
    and painted."""
    parts = []
    for i, w in enumerate(widths):
        if not w:
            continue
        col = columns[i]
        text = col.title if cells is None else cells[i]
        shown = truncate(text, w, screen.ellipsis) if cut else text
        fill = " " * max(0, w - display_width(shown))
        if cells is not None and col.status:
            shown = screen.paint(shown, text)
        parts.append(fill + shown if col.right else shown + fill)
    if marker and cells is None:
        parts.append(screen.ellipsis)
    return (" " * sep).join(parts).rstrip(" ")
