"""jinja2 filters shared by every verbalization template.

Each filter renders a value in a form that the faithfulness check knows how to recover, so a
template author can write natural prose ("$0.99", "January 1, 2009", "11,170,334") without
breaking the guarantee that every cell value is in the sentence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def num(value: Any) -> str:
    """Thousands separators for integers; shortest exact form for floats (1012.3 -> '1,012.3')."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        text = repr(value)
        if "e" in text.lower() or "n" in text.lower():
            return text
        whole, frac = text.split(".")
        sign = "-" if whole.startswith("-") else ""
        return f"{sign}{int(whole.lstrip('-')):,}.{frac}"
    return str(value)


def money(value: Any, symbol: str = "$") -> str:
    """Currency with two decimals: 0.99 -> '$0.99', 1234.5 -> '$1,234.50'."""
    if value is None:
        return ""
    number = float(value)
    sign = "-" if number < 0 else ""
    return f"{sign}{symbol}{abs(number):,.2f}"


def _as_datetime(value: Any) -> dt.datetime | dt.date:
    if isinstance(value, dt.datetime | dt.date):
        return value
    text = str(value).strip().replace("T", " ")
    try:
        return dt.datetime.fromisoformat(text) if len(text) > 10 else dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"not an ISO date: {value!r}") from exc


def date(value: Any) -> str:
    """'2009-01-01' -> 'January 1, 2009'."""
    if value is None:
        return ""
    d = _as_datetime(value)
    return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"


def datetime(value: Any) -> str:
    """'2013-01-01 06:00:00' -> 'January 1, 2013 at 06:00'; midnight keeps only the date."""
    if value is None:
        return ""
    d = _as_datetime(value)
    if not isinstance(d, dt.datetime):
        return date(d)
    text = date(d)
    if (d.hour, d.minute, d.second) != (0, 0, 0):
        text += f" at {d.hour:02d}:{d.minute:02d}"
        if d.second:
            text += f":{d.second:02d}"
    return text


def yesno(value: Any) -> str:
    """Truthy flags ('Y', 'Yes', 1, True) -> 'yes'; others -> 'no'."""
    if isinstance(value, str):
        return "yes" if value.strip().lower() in {"y", "yes", "true", "t", "1"} else "no"
    return "yes" if value else "no"


FILTERS: dict[str, Callable[..., str]] = {
    "num": num,
    "money": money,
    "date": date,
    "datetime": datetime,
    "yesno": yesno,
}
