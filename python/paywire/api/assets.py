"""The files the pages load, each served by name from its directory: a directory is never
served whole, so nothing else in it (a package's Python files and bytecode, a library's demo
pages with inline scripts) is reachable from the admin surface."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from aiohttp import web


def add_files(app: web.Application, prefix: str, directory: Path, names: Collection[str]) -> None:
    """GET `prefix`/NAME answers the file NAME of `directory` when it is one of `names`, 404
    for anything else."""
    served = {name: directory / name for name in names}
    missing = [str(path) for path in served.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"assets missing: {', '.join(missing)}")

    async def serve(request: web.Request) -> web.FileResponse:
        path = served.get(request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    app.router.add_get(f"{prefix}/{{name}}", serve)
