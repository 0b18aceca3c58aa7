"""How long records are kept (SPEC §3, §10a): audit rows 7 to 10 years, payments 7 years live
before the archive, application logs 30 days (kept by the log handler itself)."""

from __future__ import annotations

from datetime import datetime

ARCHIVE_AFTER_YEARS = 7


def years_before(moment: datetime, years: int) -> datetime:
    """The same instant `years` calendar years earlier; 29 February becomes the 28th."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)
