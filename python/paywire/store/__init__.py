"""PostgreSQL through asyncpg: the embedded server, the pool, the migrations, and one module of
SQL per table family.

Services call these functions inside the transactions of `paywire.store.tx`; the handlers and
the pipeline write no SQL of their own.
"""
