"""The aiohttp admin surface: JSON API, health, metrics, API docs and the terminal UI.

`create_app` in `paywire.api.app` builds it; one module per resource registers its endpoints.
"""

from paywire.api.app import create_app

__all__ = ["create_app"]
