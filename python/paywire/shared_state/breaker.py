"""The circuit breaker's verdict on one receiver, shared through Redis: when one gateway process
opens its breaker, the others stop dialling that receiver until the reset period is over, and
then a single probe (a lock with a TTL) decides for all of them.
"""

from __future__ import annotations

from paywire.shared_state.link import Down, Redis, RedisLink

# The probe is claimed only while no OPEN verdict stands, in one step: a process that read the
# period as over, and then claimed, would otherwise probe after another's failed probe published
# a fresh verdict in between (publishing clears the probe's lock for the next period).
_CLAIM_PROBE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return 1 end
return 0
"""


class RedisBreakerState:
    """A `SharedBreaker` for the receiver at `receiver` ("host:port"). While Redis is down it
    answers as if no other process had an opinion, which leaves each breaker to itself."""

    def __init__(self, link: RedisLink, receiver: str) -> None:
        self._link = link
        self._open = link.key("breaker", receiver, "open")
        self._probe = link.key("breaker", receiver, "probe")
        self._claim = link.script(_CLAIM_PROBE)

    async def open_for(self) -> float:
        remaining = await self._link.call("breaker state", lambda client: client.pttl(self._open))
        if isinstance(remaining, Down) or remaining <= 0:
            return 0.0
        return float(remaining) / 1000

    async def publish_open(self, reset_s: float) -> None:
        async def publish(client: Redis) -> None:
            async with client.pipeline(transaction=True) as pipe:
                pipe.set(self._open, b"1", px=max(1, int(reset_s * 1000)))
                pipe.delete(self._probe)  # the next period gets its own probe
                await pipe.execute()

        await self._link.call("breaker open", publish)

    async def claim_probe(self, ttl_s: float) -> bool:
        claimed = await self._link.run_script(
            "breaker probe", self._claim, [self._open, self._probe], [max(1, int(ttl_s * 1000))]
        )
        return isinstance(claimed, Down) or bool(claimed)

    async def publish_closed(self) -> None:
        await self._link.call(
            "breaker closed", lambda client: client.delete(self._open, self._probe)
        )
