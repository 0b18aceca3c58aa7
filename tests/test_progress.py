"""The progress bar of long commands: drawn on a terminal, never into a pipe or a file."""

from __future__ import annotations

import io

from paywire.commands.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_learns_its_total_late_and_ends_its_line() -> None:
    """`audit verify` knows how many rows there are only once its snapshot is taken."""
    screen = Terminal()
    progress = Progress("verified", 0, stream=screen)
    progress.update(1_000, total=4_000)
    progress.update(4_000)
    progress.close()
    first, last = screen.getvalue().split("\r")[1:]
    assert first.startswith(f"verified   [{'#' * 7}{' ' * 23}]     1,000/4,000")
    assert last.startswith(f"verified   [{'#' * 30}]     4,000/4,000")
    assert last.endswith("/s\n")


def test_nothing_is_drawn_where_no_one_watches() -> None:
    piped = io.StringIO()
    progress = Progress("verified", 10, stream=piped)
    progress.update(10)
    progress.close()
    assert piped.getvalue() == ""
