"""Pure payment logic: money, identifiers, validation, statuses and roles, screening, audit hashes.

Nothing here does I/O; neither asyncpg nor aiohttp is imported below this package.
"""
