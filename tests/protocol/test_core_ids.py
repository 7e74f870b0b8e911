"""Invocation ids and idempotency tokens are random RFC 4122 version 4 UUIDs."""

from __future__ import annotations

import uuid

from cmclient._protocol.call import uuid4


def test_uuid4_gives_valid_distinct_version_4_uuids() -> None:
    values = [uuid4() for _ in range(2000)]
    parsed = [uuid.UUID(v) for v in values]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert [str(u) for u in parsed] == values  # the canonical lower-case form
    assert len(set(values)) == len(values)
