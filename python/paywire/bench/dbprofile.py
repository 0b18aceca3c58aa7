"""The database's own account of a bench run: the statements that took its time.

Reads pg_stat_statements (preloaded by the embedded server; on another server it must be
enabled by its administrator), reset just before the measured run.
"""

from __future__ import annotations

import sys

from paywire.store.tx import Pool

TOP = 20

# For an embedded server started to profile: count statements run inside triggers and functions
# too (the work list's upsert, the foreign-key checks), where much of a status change's time
# goes. Another server reports them only if its administrator set the same.
SERVER_SETTINGS = {"pg_stat_statements.track": "all"}


async def reset(db: Pool) -> bool:
    """Start counting afresh; False when the server has no pg_stat_statements."""
    async with db.acquire() as conn:
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await conn.execute("SELECT pg_stat_statements_reset()")
        except Exception as exc:
            print(
                f"bench: no database profile: {exc}; on this server, add pg_stat_statements"
                " to shared_preload_libraries, or run without --db-profile",
                file=sys.stderr,
            )
            return False
    return True


async def report(db: Pool) -> str:
    rows = await db.fetch(
        """
        SELECT calls, total_exec_time, rows, toplevel,
               regexp_replace(query, '\\s+', ' ', 'g') AS query
        FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_exec_time DESC
        LIMIT $1
        """,
        TOP,
    )
    lines = [
        "(nested: run by a trigger or a function; its time is also in its caller's)",
        f"{'ms':>10} {'calls':>8} {'rows':>9}  {'level':<6}  statement",
    ]
    for row in rows:
        level = "top" if row["toplevel"] else "nested"
        lines.append(
            f"{row['total_exec_time']:>10.1f} {row['calls']:>8} {row['rows']:>9}  {level:<6}  "
            f"{row['query'][:150]}"
        )
    return "\n".join(lines)
