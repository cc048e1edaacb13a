"""The signing limits with Redis storage, as in production: several processes share one count.

Runs against Redis database 11 (RATELIMIT_TEST_REDIS_URL to change it) whatever the rest
of the suite uses, and is skipped only when that Redis cannot be reached.
"""
from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from campaigns.core.db import db
from campaigns.core.extensions import limiter
from campaigns.signatures.models import Signature
from tests.helpers import process_intake

REDIS_URL = os.environ.get("RATELIMIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


@pytest.fixture
def redis_limits():
    """Redis reachable (else skip); the limiter's storage put back afterwards.

    The limiter is one object shared by every app built in this process, and each
    create_app() gives it that app's storage: the suite's is restored at the end.
    """
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")
    saved = (limiter.enabled, limiter._storage, limiter._limiter)
    yield REDIS_URL
    limiter.reset()  # only the limiter's own keys in that Redis database (LIMITS:*)
    limiter.enabled, limiter._storage, limiter._limiter = saved


def person(i: int) -> dict:
    return {"first_name": "Ada", "last_name": "Lovelace", "email": f"redis-limit{i}@example.org",
            "country": "GB"}


def test_signing_limits_count_in_redis_across_two_app_instances(campaign, other_app, redis_limits):
    limits = dict(RATELIMIT_STORAGE_URI=redis_limits, SIGN_RATE_LIMIT="3/minute",
                  SIGN_HARD_RATE_LIMIT="5/minute")
    first = other_app(**limits)
    from limits.storage import RedisStorage

    assert isinstance(limiter._storage, RedisStorage)
    limiter.reset()  # leftovers of an earlier run within the minute
    url = f"/api/v1/campaigns/{campaign.slug}/signatures"
    statuses = [first.test_client().post(url, json=person(i)).status_code for i in range(2)]

    # A second process (here: a second app, with a storage object of its own) sees the count.
    second = other_app(**limits)
    client = second.test_client()
    statuses += [client.post(url, json=person(i)).status_code for i in range(2, 6)]

    # Over the soft limit: the same answer, silently stored as fraud; over the hard one: 429.
    assert statuses == [202] * 5 + [429]
    process_intake()
    found = {s.supporter.email: (s.state.value, s.fraud_reason)
             for s in db.session.scalars(select(Signature))}
    assert [found[f"redis-limit{i}@example.org"] for i in range(5)] == \
        [("pending", None)] * 3 + [("fraudulent", "rate:address")] * 2
    assert "redis-limit5@example.org" not in found
