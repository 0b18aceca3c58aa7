"""The bounded memory of settled msg_ids."""

from __future__ import annotations

import pytest

from paywire.transport.settled import RecentlySettled


def test_remembers_at_least_capacity_ids_with_how_each_was_settled() -> None:
    settled = RecentlySettled(3)
    settled.update({"a": "ACK", "b": "NACK"})
    settled.update({"c": "ACK"})  # fills the first generation
    settled.update({"d": "NACK", "e": "ACK"})
    assert [settled.settled_as(m) for m in "abcde"] == ["ACK", "NACK", "ACK", "NACK", "ACK"]
    settled.update({"f": "ACK"})  # the second generation fills, the first is forgotten
    assert settled.settled_as("a") is None
    assert [settled.settled_as(m) for m in "def"] == ["NACK", "ACK", "ACK"]


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        RecentlySettled(0)
