"""Writing the audit trail: `record()` for every app, and the sealer that chains events."""

import datetime as dt
import functools
import ipaddress
import logging
from itertools import groupby

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from .chain import GENESIS, event_digest, id_ranges, link, value_digest
from .models import AuditEvent, AuditSeal

log = logging.getLogger(__name__)

SEALER_LOCK_KEY = 0x51_4F_52_55_4D  # "QORUM": one sealer at a time across all processes


def _client_ip(request) -> str:
    if request is None:
        return ""
    raw = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return ""


def event_for(
    *,
    action: str,
    organization=None,
    actor=None,
    object_type: str = "",
    object_id="",
    before=None,
    after=None,
    data: dict | None = None,
    request=None,
    via: str = "",
) -> AuditEvent:
    """The event record() appends, with its digest, not yet stored: for a write path that inserts it in its own
    statement (`insert_sql`), inside the transaction of the change it records."""
    if request is not None and not via:
        token = getattr(request, "auth", None)
        via = getattr(token, "prefix", "") or ""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    event = AuditEvent(
        organization_id=getattr(organization, "pk", organization),
        at=timezone.now(),
        actor=actor,
        actor_label=(getattr(actor, "email", "") or "")[:254],
        via=via[:32],
        action=action,
        object_type=object_type,
        object_id=str(object_id or "")[:64],
        before_digest=value_digest(before),
        after_digest=value_digest(after),
        data=data or {},
        ip=_client_ip(request),
    )
    event.digest = event_digest(event)
    return event


def insert_sql(event: AuditEvent) -> tuple[str, list]:
    """`INSERT ... RETURNING id` of an event from event_for(), and its parameters."""
    sql, fields = _insert_sql()
    return sql, [f.get_db_prep_save(f.pre_save(event, True), connection) for f in fields]


def record(**event) -> AuditEvent:
    """Append one event (event_for's arguments) to the organization's trail (or the platform's when organization is
    None).

    One INSERT, no lock: events are chained later by the sealer, so auditing every submit never
    serializes writers. Call it inside the transaction of the change it records.
    """
    event = event_for(**event)
    with connection.cursor() as cursor:  # the ORM's save() cost more than the INSERT itself, on every submit
        cursor.execute(*insert_sql(event))
        event.pk = cursor.fetchone()[0]
    event._state.adding, event._state.db = False, connection.alias
    return event


@functools.cache
def _insert_sql() -> tuple[str, list]:
    fields = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    return (f"INSERT INTO {AuditEvent._meta.db_table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))}) "
            f"RETURNING id", fields)


def _oldest_open_writer_start():
    """When the oldest other transaction that has written something began (PostgreSQL only).

    Such a transaction may hold an uncommitted event whose id is below ids already visible, so
    nothing allocated after it started may be sealed yet. SQLite needs no check: the sealer's
    IMMEDIATE transaction waits for every writer.
    """
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(xact_start) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
        )
        return cursor.fetchone()[0]


def audit_seal(*, now: dt.datetime | None = None) -> int:
    """Seal every event old enough into one seal per chain; returns the number of events sealed."""
    now = now or timezone.now()
    delay = dt.timedelta(seconds=settings.AUDIT_SEAL_DELAY_SECONDS)
    sealed = 0
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEALER_LOCK_KEY])
        cutoff = now - delay
        oldest_writer = _oldest_open_writer_start()
        if oldest_writer is not None:
            cutoff = min(cutoff, oldest_writer - delay)
        watermark = AuditSeal.objects.aggregate(m=Max("upto_event_id"))["m"] or 0
        candidates = list(AuditEvent.objects.filter(id__gt=watermark).order_by("id")[: settings.AUDIT_SEAL_BATCH])
        batch = []
        for event in candidates:
            if event.at > cutoff:
                break
            batch.append(event)
        if not batch:
            return 0
        upto = batch[-1].id
        batch.sort(key=lambda e: (e.organization_id or 0, e.id))
        for org_id, events in groupby(batch, key=lambda e: e.organization_id):
            events = list(events)
            previous = AuditSeal.objects.filter(organization_id=org_id).order_by("-id").first()
            running = previous.hash if previous else GENESIS
            digests = []
            for event in events:
                digest = event_digest(event)
                if digest != event.digest:
                    # Sealed as found, so verification points at this event; say so now as well.
                    log.error("audit event %s does not match its digest before sealing", event.id)
                digests.append(bytes.fromhex(event.digest))
                running = link(running, event.id, event.digest)
            AuditSeal.objects.create(
                organization_id=org_id,
                previous=previous,
                first_event_id=events[0].id,
                last_event_id=events[-1].id,
                event_count=len(events),
                upto_event_id=upto,
                event_ids=id_ranges([e.id for e in events]),
                digests=b"".join(digests),
                hash=running,
                created_at=now,
            )
            sealed += len(events)
    return sealed
