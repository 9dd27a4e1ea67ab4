"""The Redis stock engine: an atomic Lua admission in front of the ledger.

Per deal (one hash tag, so a Redis Cluster keeps both on one shard):

- ``stock:{deal}:left``      units Redis believes can be claimed; ``-1`` once closed
- ``stock:{deal}:shoppers``  hash shopper id → units held or bought
- ``stock:{deal}:claims``    set of the claims' idempotency keys (hashed) that took
                             units, so a retry is a replay, never a second claim

A claim is judged by one script: refuse (sold out, over the limit, closed) or
take the units from both counters. Claims for a deal arriving together share one
script call (``batching.Batcher``), so a burst costs a round trip per batch.
Only admitted claims reach the database, which decides again under the deal's
row lock and records the reservation before the shopper is answered. When the
two disagree the record wins and Redis is put right: units given back for a
claim the record refused or replayed or could not write, the counter set from
the record when it refused as sold out.

Keys are never given back. A key enters the set when the script admits its
first attempt and stays until the deal's keys expire (a week after it closed),
whatever the record then decides; so every claim the record holds has its key
in the set, and a claim whose key is listed (code 2) skips the script's checks
and goes to the record, which answers it: the reservation it holds (a replay),
a new one (the first attempt failed or was refused), or a refusal decided under
the record's rules. Why: the same key may be in flight on two nodes at once;
the node whose batch failed, or that lost the race and was refused, cannot
know from Redis whether the other node recorded the key, and removing the key
(as this engine once did) let the script refuse, forever, a key the record held.
Counting units is different: a count that is off is only an admission filter's
error, which the record corrects (sold-out refusals set it, the reconciler
repairs it); a listed key that should not be costs only a trip to the record.
The interleavings, for one key K sent to nodes A and B at once:

- A's script admits K (takes a unit, lists K); B's finds K listed and goes to
  the record. Whichever batch records K first answers 201; the other sees K
  in the record (or conflicts on its unique key and is redone under the lock)
  and answers the same reservation. If B recorded it, B counts the unit in
  Redis (``_RECORDED``) and A gives back the unit its script took.
- A's batch fails (database gone, node killed): A gives back its unit, K stays
  listed; B (or any later retry) reaches the record and replays or records K.
- A's batch is refused by the record (sold out, over the limit): A corrects the
  counters, K stays listed; a retry of K asks the record again. The refusal
  held when it was decided (see ``ledger``); a later success means units came
  back.
- A node is killed after its script admitted K: the unit is lost until the
  reconciler repairs the count; K stays listed, so its retries reach the record.

Redis losing its data (restart, failover, eviction) makes the script answer
"unknown"; the engine loads both counters from the record and claims go on.
The keys are loaded from the record too, and each node lists a recorded key
again when it answers (``_RECORDED``), so a claim recorded while Redis was
being reloaded is listed either way.
A node killed between Redis and the database leaves units taken in Redis that
no reservation holds: the reconciler finds a counter that disagrees with the
record and has not moved for a while, and sets it from the record.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from redis.asyncio import Redis
from sqlalchemy import select

from pasar import redis_clients
from pasar.commerce.batching import Batcher
from pasar.commerce.groupcommit import GroupCommit
from pasar.commerce.ledger import Claim, DealTerms, Outcome
from pasar.commerce.models import DealShopper, DealStock, Reservation
from pasar.commerce.stock_sql import record_units_left
from pasar.db.engine import Database

log = structlog.get_logger()

# Judge a batch of claims for one deal. ARGV[1]: the per-shopper limit; then per
# claim: quantity, shopper, claim key. Returns per claim: code, units left after it.
_ADMIT = """
local left = redis.call('GET', KEYS[1])
if not left then return {-3, 0} end
left = tonumber(left)
local limit = tonumber(ARGV[1])
local taken = 0
local out = {}
for i = 2, #ARGV, 3 do
  local qty, shopper, key = tonumber(ARGV[i]), ARGV[i + 1], ARGV[i + 2]
  local code = 1
  if redis.call('SISMEMBER', KEYS[3], key) == 1 then code = 2
  elseif left < 0 then code = -2
  elseif left < qty then code = 0
  elseif tonumber(redis.call('HGET', KEYS[2], shopper) or '0') + qty > limit then code = -1
  else
    redis.call('HINCRBY', KEYS[2], shopper, qty)
    redis.call('SADD', KEYS[3], key)
    left = left - qty
    taken = taken + qty
  end
  out[#out + 1] = code
  out[#out + 1] = left
end
if taken > 0 then redis.call('DECRBY', KEYS[1], taken) end
return out
"""

# Give units back, unless Redis lost the deal meanwhile (a reload is exact).
# The claim key stays: see "Keys are never given back" above.
_GIVE_BACK = """
local left = redis.call('GET', KEYS[1])
if not left or tonumber(left) < 0 then return 0 end
redis.call('INCRBY', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then
  local have = redis.call('HINCRBY', KEYS[2], ARGV[2], -tonumber(ARGV[1]))
  if have <= 0 then redis.call('HDEL', KEYS[2], ARGV[2]) end
end
return 1
"""

# The record holds the claim (ARGV[1]): make sure its key is listed, and when
# the record reserved it for a claim the script had not counted (a retry whose
# first attempt gave its units back), count it now (ARGV[2] units of shopper
# ARGV[3]; never below 0, which would read as closed).
_RECORDED = """
redis.call('SADD', KEYS[3], ARGV[1])
local qty = tonumber(ARGV[2])
local left = redis.call('GET', KEYS[1])
if not left then return 0 end
if tonumber(left) < 0 then
  redis.call('EXPIRE', KEYS[3], 604800)
  return 0
end
if qty > 0 then
  redis.call('SET', KEYS[1], math.max(tonumber(left) - qty, 0))
  redis.call('HINCRBY', KEYS[2], ARGV[3], qty)
end
return 1
"""

# Load from the record: shoppers first, so no claim sees the count without them.
# ARGV: remaining, expected current value ('' = only if missing), shopper, units, …
_LOAD = """
local cur = redis.call('GET', KEYS[1])
if ARGV[2] == '' then
  if cur then return 0 end
elseif cur ~= ARGV[2] then
  return 0
end
redis.call('DEL', KEYS[2])
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""

# Set the count from the record when it is still what the caller read.
_SET_IF = """
local cur = redis.call('GET', KEYS[1])
if not cur or tonumber(cur) < 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""

_SET_SHOPPER = """
if not redis.call('GET', KEYS[1]) then return 0 end
if tonumber(ARGV[2]) <= 0 then redis.call('HDEL', KEYS[2], ARGV[1])
else redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
return 1
"""

CLOSED = -1
KEEP_CLOSED_SECONDS = 7 * 86_400


def _keys(deal_id: str) -> list[str]:
    return [
        f"stock:{{{deal_id}}}:left",
        f"stock:{{{deal_id}}}:shoppers",
        f"stock:{{{deal_id}}}:claims",
    ]


def _short(claim_key: str) -> str:
    return claim_key[:32]  # 128 bits: enough to tell one shopper's keys apart


class RedisStock:
    name = "redis"

    def __init__(
        self, url: str, db: Database, group: GroupCommit, *, quiet_seconds: float = 5.0
    ) -> None:
        self.redis: Redis = redis_clients.pooled(
            url, connections=64, wait=10, command_timeout=15, connect_timeout=5
        )
        self._admitter: Batcher[tuple[DealTerms, Claim], tuple[int, int]] = Batcher(
            self._admit_batch, max_batch=500, name="pasar-admit"
        )
        self.db = db
        self.group = group
        self.quiet_seconds = quiet_seconds
        self._admit = self.redis.register_script(_ADMIT)
        self._give_back = self.redis.register_script(_GIVE_BACK)
        self._recorded = self.redis.register_script(_RECORDED)
        self._load = self.redis.register_script(_LOAD)
        self._set_if = self.redis.register_script(_SET_IF)
        self._set_shopper = self.redis.register_script(_SET_SHOPPER)
        # deal id → (redis count, record count) seen at the last reconcile pass
        self._suspect: dict[str, tuple[int, int]] = {}
        self._deals: set[str] = set()
        self.reloads = 0
        self.repairs = 0

    async def _admit_batch(
        self, deal_id: str, batch: list[tuple[DealTerms, Claim]]
    ) -> list[tuple[int, int]]:
        keys = _keys(deal_id)
        args: list[str | int] = [batch[0][0].per_shopper_limit]
        for _, claim in batch:
            args += [claim.quantity, claim.shopper_id, _short(claim.claim_key)]
        found = await self._admit(keys=keys, args=args)
        if len(found) == 2 and found[0] == -3:  # Redis does not know the deal (lost it)
            await self._load_from_record(deal_id, expect=None)
            found = await self._admit(keys=keys, args=args)
            if len(found) == 2 and found[0] == -3:
                return [(-3, 0)] * len(batch)
        return [(int(found[i]), int(found[i + 1])) for i in range(0, len(found), 2)]

    async def claim(self, terms: DealTerms, claim: Claim) -> Outcome:
        keys = _keys(terms.id)
        code, left = await self._admitter.submit(terms.id, (terms, claim))
        self._deals.add(terms.id)
        if code == 0:
            return Outcome(refusal="sold_out", units_left=int(left), held=-1)
        if code == -1:
            return Outcome(refusal="limit_reached", units_left=int(left))
        if code == -2:
            return Outcome(refusal="ended")
        if code == 2:  # the key is listed: the record answers, nothing was taken here
            outcome = await self.group.submit(terms, claim)
            await self._settle(terms, claim, outcome, took=False)
            return outcome
        if code != 1:  # still unknown: the deal is gone from the record too
            return Outcome(refusal="ended")
        try:
            outcome = await self.group.submit(terms, claim)
        except BaseException:
            # Only the units: the key stays listed, as another node may have
            # recorded it (or this batch did and its answer was lost).
            await self._give_back(keys=keys, args=[claim.quantity, claim.shopper_id])
            raise
        await self._settle(terms, claim, outcome, took=True)
        return outcome

    async def _settle(self, terms: DealTerms, claim: Claim, outcome: Outcome, took: bool) -> None:
        """Put Redis's counters right where the record decided otherwise than the
        script (``took``: the script took this claim's units). Keys stay listed."""
        keys = _keys(terms.id)
        key = _short(claim.claim_key)
        if outcome.reservation is not None and not outcome.replayed:
            if not took:  # recorded now, counted nowhere yet
                await self._recorded(keys=keys, args=[key, claim.quantity, claim.shopper_id])
            return
        if outcome.replayed or outcome.conflict:
            if took:  # the units are counted for the attempt that recorded it
                await self._give_back(keys=keys, args=[claim.quantity, claim.shopper_id])
            if outcome.replayed:  # listed again if Redis lost it meanwhile
                await self._recorded(keys=keys, args=[key, 0, ""])
            return
        if outcome.refusal == "sold_out":
            await self._set_if(keys=keys, args=[outcome.units_left])
            await self._set_shopper(
                keys=keys, args=[claim.shopper_id, outcome.extra.get("holding", 0)]
            )
        elif outcome.refusal == "limit_reached":
            if took:
                await self._give_back(keys=keys, args=[claim.quantity, ""])
            await self._set_shopper(keys=keys, args=[claim.shopper_id, outcome.extra["holding"]])
        elif outcome.refusal == "ended":
            await self.closed(terms.id)

    async def _record(self, deal_id: str) -> tuple[int, bool, dict[str, int]] | None:
        async with self.db.session() as db:
            stock = (
                await db.execute(
                    select(DealStock.remaining, DealStock.open).where(DealStock.deal_id == deal_id)
                )
            ).one_or_none()
            if stock is None:
                return None
            rows = await db.execute(
                select(DealShopper.shopper_id, DealShopper.units).where(
                    DealShopper.deal_id == deal_id, DealShopper.units > 0
                )
            )
            return stock[0], stock[1], {s: n for s, n in rows}

    async def _load_from_record(self, deal_id: str, expect: int | None) -> bool:
        record = await self._record(deal_id)
        if record is None:
            return False
        remaining, is_open, shoppers = record
        keys = _keys(deal_id)
        if expect is None:
            # Every claim the record holds, so their retries stay replays; added
            # before the count appears, as no claim is admitted without a count.
            async with self.db.session() as db:
                rows = await db.execute(
                    select(Reservation.claim_key).where(Reservation.deal_id == deal_id)
                )
                claim_keys = [_short(k) for (k,) in rows]
            for i in range(0, len(claim_keys), 5_000):
                await self.redis.sadd(keys[2], *claim_keys[i : i + 5_000])
        args: list[str | int] = [remaining if is_open else CLOSED, "" if expect is None else expect]
        for shopper, units in shoppers.items():
            args += [shopper, units]
        loaded = bool(await self._load(keys=keys, args=args))
        if loaded:
            self.reloads += expect is None
            log.info("deal stock loaded into redis", deal_id=deal_id, remaining=remaining)
        return loaded

    async def units_left(self, deal_id: str) -> int | None:
        """The record's count, as with the SQL engine: what shoppers are shown.

        Redis's own count is the admission filter's: ahead of the record by the
        claims admitted and not yet written, behind it (until the reconciler
        repairs it) by units a killed node took; showing it made the storefront
        and the record disagree for seconds (issue 10, F)."""
        async with self.db.session() as db:
            return await record_units_left(db, deal_id)

    async def returned(self, deal_id: str, remaining: int, by_shopper: Mapping[str, int]) -> None:
        # Exact values from the record, written under no lock: a claim admitted
        # in between may be counted twice here, which the record refuses and
        # the sold-out path corrects; never a unit too few for good.
        keys = _keys(deal_id)
        await self._set_if(keys=keys, args=[remaining])
        for shopper, units in by_shopper.items():
            await self._set_shopper(keys=keys, args=[shopper, units])

    async def closed(self, deal_id: str) -> None:
        keys = _keys(deal_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys[0], CLOSED, ex=KEEP_CLOSED_SECONDS)
            pipe.delete(keys[1])
            # The keys stay (for as long as the count): a retry of a claim the
            # record holds is a replay after the deal's end too, not "ended".
            pipe.expire(keys[2], KEEP_CLOSED_SECONDS)
            await pipe.execute()
        self._deals.discard(deal_id)
        self._suspect.pop(deal_id, None)

    async def reconcile(self) -> None:
        """Repair counters that disagree with the record and have stayed put.

        A disagreement while claims flow is normal (admitted, not yet
        written); one that survives ``quiet_seconds`` unchanged is a leak."""
        for deal_id in list(self._deals):
            left = await self.redis.get(_keys(deal_id)[0])
            record = await self._record(deal_id)
            if left is None or record is None:
                self._suspect.pop(deal_id, None)
                if record is None:
                    self._deals.discard(deal_id)
                continue
            seen = (int(left), record[0] if record[1] else CLOSED)
            if seen[0] == seen[1]:
                self._suspect.pop(deal_id, None)
            elif self._suspect.get(deal_id) == seen:
                if await self._load_from_record(deal_id, expect=seen[0]):
                    self.repairs += 1
                    log.warning("deal stock repaired from the record", deal_id=deal_id, seen=seen)
                self._suspect.pop(deal_id, None)
            else:
                self._suspect[deal_id] = seen

    async def close(self) -> None:
        await self._admitter.close()
        await self.group.close()
        await self.redis.aclose()
