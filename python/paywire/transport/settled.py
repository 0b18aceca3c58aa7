"""A bounded memory of the msg_ids answered lately, shared by the connections of one pool.

It tells a duplicate answer (ignored) from an answer naming no message we know of (an orphan).
"""

from __future__ import annotations


class RecentlySettled:
    """Remembers at least the last `capacity` msg_ids and at most twice as many.

    Two generations of sets instead of an LRU: adding a read's msg_ids is one set update, and
    duplicate answers arrive within moments of the first, long before a generation ages out.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._current: set[str] = set()
        self._previous: set[str] = set()

    def update(self, msg_ids: list[str]) -> None:
        current = self._current
        current.update(msg_ids)
        if len(current) >= self._capacity:
            self._previous = current
            self._current = set()

    def __contains__(self, msg_id: object) -> bool:
        return msg_id in self._current or msg_id in self._previous
