"""How big a chaos run is, and the seed of its random choices.

`make test` runs every scenario at a bounded size; `make chaos` sets PAYWIRE_CHAOS_SCALE=full.
PAYWIRE_CHAOS_SEED replays a run: every test prints the seed it used.
"""

from __future__ import annotations

import os
import random

FULL = os.environ.get("PAYWIRE_CHAOS_SCALE", "bounded") == "full"


def size(bounded: int, full: int) -> int:
    """The number of payments (or the like) of a run at the current scale."""
    return full if FULL else bounded


def seeded(name: str) -> random.Random:
    """A generator seeded from PAYWIRE_CHAOS_SEED or at random; the seed is printed, so a
    failing run can be replayed."""
    seed = int(os.environ.get("PAYWIRE_CHAOS_SEED") or random.SystemRandom().randrange(2**32))
    print(f"{name}: PAYWIRE_CHAOS_SEED={seed} PAYWIRE_CHAOS_SCALE={'full' if FULL else 'bounded'}")
    return random.Random(seed)
