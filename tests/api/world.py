"""A small seeded world for API tests: operators of every role and funded ledger accounts,
seeded by `tests.fixtures.world.seed_world`, and an HTTP client to the app on that database.

The operators' hashes are argon2 with the app's own parameters: a login by password checks it
as production does, and never re-hashes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from paywire.domain.operators import Operator
from paywire.domain.roles import Role
from paywire.services.auth import token_digest
from paywire.store import operators
from paywire.store.tx import Pool, transaction
from tests.fixtures.breaks import AMOUNTS, Breaks, one_of_each
from tests.fixtures.world import ACME, GLOBEX, PASSWORD, Funded, payment_body, seed_world

WRONG_PASSWORD = "not the password"

OPERATORS: dict[str, tuple[Role, ...]] = {
    "maker": (Role.MAKER,),
    "maker2": (Role.MAKER,),
    "checker": (Role.CHECKER,),
    "compliance": (Role.COMPLIANCE,),
    "admin": (Role.ADMIN,),
    "auditor": (Role.AUDITOR,),
    # Holds every payment role: four eyes must still stop them approving their own payment.
    "boss": (Role.MAKER, Role.CHECKER, Role.ADMIN),
    "everything": tuple(Role),
}
# Balances as the API tests read them back (written without a scale).
ACCOUNTS = (
    Funded(ACME, "EUR", "1000000", "ACME GmbH"),
    Funded(GLOBEX, "EUR", "0", "Globex SA"),
    Funded("TANAKA-0001", "JPY", "5000000", "Tanaka KK"),
)


@cache
def password_hash() -> str:
    """PASSWORD hashed with the app's own argon2 parameters (made once: they are not cheap)."""
    return PasswordHasher().hash(PASSWORD)


@dataclasses.dataclass
class World:
    client: TestClient
    pool: Pool
    operators: dict[str, Operator]
    tokens: dict[str, str] = dataclasses.field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def login(self, who: str, password: str = PASSWORD) -> str:
        response = await self.client.post(
            "/api/v1/auth/login", json={"username": who, "password": password}
        )
        assert response.status == 200, await response.text()
        token: str = (await response.json())["token"]
        self.tokens[who] = token
        return token

    async def attempt_login(self, username: str, password: str = WRONG_PASSWORD) -> int:
        """A login's status alone, for the lockout tests: 200, 401, or 429 once locked."""
        response = await self.client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        return response.status

    async def grant(self, who: str) -> str:
        self.tokens[who] = await open_session(self.pool, self.operators[who])
        return self.tokens[who]

    async def create_payment(self, who: str = "maker", **changes: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/v1/payments", json=payment_body(**changes), headers=self.auth(who)
        )
        assert response.status == 201, await response.text()
        created: dict[str, Any] = await response.json()
        return created

    async def approved_payment(self, who: str = "checker", **changes: Any) -> UUID:
        """A payment entered by the maker and approved by `who`, both through the API."""
        created = await self.create_payment(**changes)
        response = await self.client.post(
            f"/api/v1/payments/{created['id']}/approve", headers=self.auth(who)
        )
        assert response.status == 200, await response.text()
        return UUID(created["id"])


async def breaks_through_the_api(world: World, owner: Pool) -> Breaks:
    """Four payments entered and approved through the API, then broken one way each (through
    `owner`, the schema's owner)."""
    approved = [await world.approved_payment(amount=amount) for amount in AMOUNTS]
    return await one_of_each(world.pool, owner, approved)


async def open_session(pool: Pool, operator: Operator) -> str:
    """A bearer token without the (deliberately slow) password check of a login."""
    token = secrets.token_urlsafe(32)
    now = dt.datetime.now(dt.UTC)
    async with transaction(pool) as conn:
        await operators.insert_session(
            conn, token_digest(token), operator.id, now, now + dt.timedelta(hours=1)
        )
    return token


async def make_world(client: TestClient, pool: Pool) -> World:
    """Seed the database behind `client` and give every operator a session."""
    world = World(client, pool, await seed(pool))
    for name in world.operators:
        await world.grant(name)
    return world


async def seed(pool: Pool, names: Iterable[str] = OPERATORS) -> dict[str, Operator]:
    """The operators `names` of `OPERATORS` and the API world's accounts."""
    return await seed_world(
        pool, {name: OPERATORS[name] for name in names}, ACCOUNTS, password_hash=password_hash()
    )


class RawReply(NamedTuple):
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


async def raw_request(
    world: World, method: str, path: str, headers: Mapping[bytes, bytes], body: Any = None
) -> RawReply:
    """Send header bytes exactly as given, with `body` as JSON (an empty object if None):
    aiohttp's client refuses to send a header that is not text, and an attacker's client
    does not."""
    content = orjson.dumps({} if body is None else body)
    server = world.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n".encode()
            + b"".join(name + b": " + value + b"\r\n" for name, value in headers.items())
            + f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n".encode()
            + b"Connection: close\r\n\r\n"
            + content
        )
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, reply = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in header_lines)
    return RawReply(int(status_line.split()[1]), fields, orjson.loads(reply))
