"""A bounded memory of the msg_ids answered lately and how, shared by the connections of a pool.

It tells a duplicate answer (ignored) from one that contradicts the answer that settled its
message, and both from an answer naming no message we know of (an orphan).
"""

from __future__ import annotations

from collections.abc import Mapping


class RecentlySettled:
    """Remembers at least the last `capacity` msg_ids, each with the kind of answer (ACK, NACK)
    that settled it, and at most twice as many.

    Two generations of dicts instead of an LRU: adding a read's msg_ids is one dict update, and
    duplicate answers arrive within moments of the first, long before a generation ages out.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._current: dict[str, str] = {}
        self._previous: dict[str, str] = {}

    def update(self, kinds: Mapping[str, str]) -> None:
        """Remember how each msg_id of `kinds` was settled."""
        current = self._current
        current.update(kinds)
        if len(current) >= self._capacity:
            self._previous = current
            self._current = {}

    def settled_as(self, msg_id: str) -> str | None:
        """The kind of answer that settled `msg_id`, or None if none did lately."""
        return self._current.get(msg_id) or self._previous.get(msg_id)
