"""Bearer tokens as an attacker would try them: every protected endpoint refuses a missing,
forged, revoked, expired or deactivated operator's token; tokens are stored and logged nowhere
in clear."""

from __future__ import annotations

import hashlib
import logging

import pytest
from argon2 import PasswordHasher

from paywire.api import create_app
from paywire.api.app import endpoints
from paywire.config import Settings
from tests.api.world import World, raw_request, seed
from tests.fixtures.app import Serve
from tests.fixtures.waiting import poll
from tests.fixtures.world import PASSWORD

SOME_ID = "00000000-0000-4000-8000-000000000000"
PROTECTED = sorted(
    (e.method, e.path.replace("{id}", SOME_ID)) for e in endpoints() if e.roles is not None
)


async def refused_everywhere(world: World, headers: dict[str, str]) -> None:
    """Each protected endpoint answers 401 with the Bearer challenge for these headers."""
    assert len(PROTECTED) >= 15
    for method, path in PROTECTED:
        response = await world.client.request(method, path, json={}, headers=headers)
        assert response.status == 401, (method, path, await response.text())
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await response.json())["error"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer ",
        "Basic bWFrZXI6cGFzc3dvcmQ=",
        "Bearer forged-token-that-was-never-issued",
        "Bearer " + "A" * 4000,
        "bearer' OR '1'='1",
    ],
)
async def test_no_or_forged_token_is_401_everywhere(
    world: World, authorization: str | None
) -> None:
    await refused_everywhere(world, {"Authorization": authorization} if authorization else {})


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param("t\u00f6ken".encode(), id="non-ascii"),
        pytest.param(b"abc+/=", id="not-urlsafe"),
    ],
)
async def test_a_token_paywire_never_issues_is_401_everywhere_not_a_crash(
    world: World, token: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Header bytes that are not UTF-8 reach the app as surrogate escapes, which no hash of the
    token can encode: without a check of its alphabet, each request was a 500 and a traceback."""
    with caplog.at_level(logging.ERROR):
        for method, path in PROTECTED:
            reply = await raw_request(world, method, path, {b"Authorization": b"Bearer " + token})
            assert reply.status == 401, (method, path, reply.body)
            assert reply.headers["WWW-Authenticate"].startswith("Bearer")
            assert reply.body["error"]["code"] == "UNAUTHENTICATED"
    assert not caplog.records


async def test_a_token_is_dead_everywhere_after_logout(world: World) -> None:
    token = await world.login("everything")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await world.client.post("/api/v1/auth/logout", headers=headers)).status == 204
    await refused_everywhere(world, headers)


async def test_an_expired_token_is_dead_everywhere(world: World) -> None:
    token = await world.login("everything")
    # Age every session by two hours: each expired at least an hour ago.
    await world.pool.execute(
        "UPDATE sessions SET created_at = created_at - interval '2 hours',"
        " expires_at = expires_at - interval '2 hours'"
    )
    await refused_everywhere(world, {"Authorization": f"Bearer {token}"})


async def test_a_deactivated_operators_token_is_dead_everywhere(world: World) -> None:
    await world.pool.execute("UPDATE operators SET active = false WHERE username = 'everything'")
    await refused_everywhere(world, world.auth("everything"))


async def test_a_token_expires_after_the_configured_lifetime(
    serve: Serve, settings: Settings, db_pool
) -> None:
    """PAYWIRE_TOKEN_TTL_S of one second: the same token works, then stops working, on the
    server's own clock."""
    await seed(db_pool, ["maker"])
    app = create_app(Settings(log_dir=settings.log_dir, token_ttl_s=1), db_pool)
    world = World(await serve(app), db_pool, {})
    headers = {"Authorization": f"Bearer {await world.login('maker')}"}
    assert (await world.client.get("/api/v1/auth/me", headers=headers)).status == 200

    async def me() -> int:
        return (await world.client.get("/api/v1/auth/me", headers=headers)).status

    await poll(
        me,
        10,
        what="the token dead after its one-second lifetime",
        until=lambda status: status != 200,
        interval_s=0.05,
    )
    assert await me() == 401


async def test_tokens_and_passwords_are_kept_nowhere_in_clear(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    new_password = "the newcomer's own long secret"
    with caplog.at_level(logging.DEBUG):
        token = await world.login("maker")
        headers = {"Authorization": f"Bearer {token}"}
        await world.client.get("/api/v1/auth/me", headers=headers)
        await world.client.post("/api/v1/auth/logout", headers=headers)
        created = await world.client.post(
            "/api/v1/operators",
            json={"username": "newcomer", "password": new_password, "roles": ["MAKER"]},
            headers=world.auth("admin"),
        )
        assert created.status == 201, await created.text()
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert token not in logged
    assert PASSWORD not in logged
    assert new_password not in logged
    digest = hashlib.sha256(token.encode()).digest()
    stored = await world.pool.fetch("SELECT token_hash FROM sessions")
    assert digest in [row["token_hash"] for row in stored]
    dump = await world.pool.fetchval(
        "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM audit_logs) t"
    )
    assert token not in dump
    assert PASSWORD not in dump
    assert new_password not in dump
    # The hash the app stored (the world's operators were hashed by the test fixture).
    stored_hash = await world.pool.fetchval(
        "SELECT password_hash FROM operators WHERE username = 'newcomer'"
    )
    assert stored_hash.startswith("$argon2id$")
    assert new_password not in stored_hash
    assert PasswordHasher().verify(stored_hash, new_password)
