"""Process-wide tuning the `paywire` launcher applies before a command runs.

Measured in `paywire bench --mode db` (benches/RESULTS.md): with CPython's default thresholds
the collector ran about a thousand young collections and eight full ones (160 ms each, a pause
in every stage) over 10,000 payments; the gateway's objects are nearly all freed by reference
counting, so collecting rarely loses nothing and freezing what start-up built spares the full
collections from walking every imported module again.
"""

from __future__ import annotations

import gc

# A young collection after this many container allocations (CPython's default is 700).
YOUNG_THRESHOLD = 50_000
OLDER_THRESHOLDS = (50, 100)


def tune_gc() -> None:
    """Collect rarely, and move everything allocated so far out of the collector's sight."""
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
    gc.collect()
    gc.freeze()
