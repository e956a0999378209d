"""Walks a chain's seals and events and reports the first event that was altered, removed or added."""

from django.db.models import Max

from .chain import GENESIS, event_digest, expand_ranges, link
from .models import AuditEvent, AuditSeal


def _bad(event_id, reason, seal=None):
    bad = {"event": event_id, "reason": reason}
    if seal is not None:
        bad["seal"] = seal.id
    return bad


def audit_verify(*, organization_id: int | None) -> dict:
    """Verify one chain (None = the platform chain): `{"ok", "checked", "first_bad"}`."""
    checked = 0
    running = GENESIS
    last_sealed = 0
    previous_id = None
    events = AuditEvent.objects.filter(organization_id=organization_id).order_by("id")
    for seal in AuditSeal.objects.filter(organization_id=organization_id).order_by("id").iterator():
        if seal.previous_id != previous_id:
            return {"ok": False, "checked": checked, "first_bad": _bad(seal.first_event_id, "seal chain broken", seal)}
        expected_ids = expand_ranges(seal.event_ids)
        digests = bytes(seal.digests)
        sealed = {eid: digests[i * 32 : (i + 1) * 32].hex() for i, eid in enumerate(expected_ids)}
        if len(expected_ids) != seal.event_count or len(digests) != 32 * seal.event_count:
            return {"ok": False, "checked": checked, "first_bad": _bad(seal.first_event_id, "seal altered", seal)}
        found = events.filter(id__gt=last_sealed, id__lte=seal.last_event_id).iterator(chunk_size=2000)
        pending = iter(expected_ids)
        want = next(pending, None)
        for event in found:
            if want is not None and want < event.id:
                return {"ok": False, "checked": checked, "first_bad": _bad(want, "missing (deleted)", seal)}
            if want != event.id:
                return {"ok": False, "checked": checked, "first_bad": _bad(event.id, "inserted after sealing", seal)}
            actual = event_digest(event)
            if actual != sealed[event.id] or actual != event.digest:
                return {"ok": False, "checked": checked, "first_bad": _bad(event.id, "altered", seal)}
            running = link(running, event.id, sealed[event.id])
            checked += 1
            want = next(pending, None)
        if want is not None:
            return {"ok": False, "checked": checked, "first_bad": _bad(want, "missing (deleted)", seal)}
        if running != seal.hash:
            return {"ok": False, "checked": checked, "first_bad": _bad(seal.first_event_id, "seal altered", seal)}
        last_sealed = seal.last_event_id
        previous_id = seal.id
    # Events past this chain's last seal: those the sealer already passed must not exist.
    watermark = AuditSeal.objects.aggregate(m=Max("upto_event_id"))["m"] or 0
    for event in events.filter(id__gt=last_sealed).iterator(chunk_size=2000):
        if event.id <= watermark:
            return {"ok": False, "checked": checked, "first_bad": _bad(event.id, "inserted after sealing")}
        if event_digest(event) != event.digest:
            return {"ok": False, "checked": checked, "first_bad": _bad(event.id, "altered")}
        checked += 1
    return {"ok": True, "checked": checked, "first_bad": None}
