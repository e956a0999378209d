"""Canonical event encoding and the hash chain shared by the sealer and the verifier."""

import datetime as dt
import hashlib
import json

GENESIS = "0" * 64


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def value_digest(value) -> str:
    """Digest of a before/after state: the log proves what it was without storing it (PHI stays out)."""
    if value is None:
        return ""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def event_digest(event) -> str:
    at = event.at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    payload = {
        "organization": event.organization_id,
        "at": at,
        "actor": event.actor_id,
        "actor_label": event.actor_label,
        "via": event.via,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "before": event.before_digest,
        "after": event.after_digest,
        "data": event.data,
        "ip": event.ip,
    }
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def link(running: str, event_id: int, digest: str) -> str:
    """One step of the chain: sha256 over the previous hash, the event id and the event digest."""
    return hashlib.sha256(f"{running}|{event_id}|{digest}".encode()).hexdigest()


def id_ranges(ids: list[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for event_id in ids:
        if ranges and ranges[-1][1] == event_id - 1:
            ranges[-1][1] = event_id
        else:
            ranges.append([event_id, event_id])
    return ranges


def expand_ranges(ranges) -> list[int]:
    return [event_id for first, last in ranges for event_id in range(first, last + 1)]
