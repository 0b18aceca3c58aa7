"""The bounded memory of settled msg_ids."""

from __future__ import annotations

import pytest

from paywire.transport.settled import RecentlySettled


def test_remembers_at_least_capacity_ids() -> None:
    settled = RecentlySettled(3)
    settled.update(["a", "b"])
    settled.update(["c"])  # fills the first generation
    settled.update(["d", "e"])
    assert all(m in settled for m in "abcde")
    settled.update(["f"])  # the second generation fills, the first is forgotten
    assert "a" not in settled
    assert all(m in settled for m in "def")


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        RecentlySettled(0)
