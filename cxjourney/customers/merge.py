"""Merge a duplicate customer into the one that survives.

Everything that points at the duplicate is re-pointed with one Core ``UPDATE`` per foreign
key (no rows are loaded): the foreign keys are found in the metadata, so a table added
later that refers to customers moves too instead of blocking the delete. The duplicate's
contact data fills the survivor's empty fields only; then the duplicate is deleted and a
``CustomerMerge`` row records what moved. All in the caller's one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, Table, delete, func, select, update
from sqlalchemy.orm import Session

from ..audit.services import record_audit
from ..auth.models import User
from ..errors import ValidationError
from ..extensions import db
from .events import lock_out_event_writes
from .models import Customer, CustomerMerge
from .services import customer_snapshot, find_customer

# Filled from the duplicate when the survivor has nothing there.
FILLED_FIELDS = ("email", "phone", "phone_digits", "segment", "language")


@dataclass(frozen=True)
class Reference:
    """A column that refers to customers, named for the ``moved`` counts."""

    table: Table
    column: Column[int]

    @property
    def name(self) -> str:
        if self.column.name == "customer_id":
            return self.table.name
        return f"{self.table.name}.{self.column.name}"


def customer_references() -> list[Reference]:
    """Every column that refers to ``customer.id``, in table order: by a foreign key, or
    marked ``info={"refers_to": "customer"}`` where the table has no constraint (events)."""
    found = []
    for table in db.metadata.sorted_tables:
        columns = {
            fk.parent
            for fk in table.foreign_keys
            if fk.column.table.name == Customer.__tablename__ and fk.column.name == "id"
        }
        columns |= {c for c in table.columns if c.info.get("refers_to") == "customer"}
        found += [Reference(table, column) for column in sorted(columns, key=lambda c: c.name)]
    return found


def merge_preview(session: Session, duplicate: Customer) -> dict[str, int]:
    """How many rows of each kind would move from ``duplicate`` (for the confirm step)."""
    counts = {}
    for ref in customer_references():
        counts[ref.name] = int(
            session.scalar(
                select(func.count()).select_from(ref.table).where(ref.column == duplicate.id)
            )
            or 0
        )
    return counts


def check_merge(survivor: Customer, duplicate: Customer) -> None:
    """Raise ValidationError (``duplicate``) when the merge cannot be done."""
    if survivor.id == duplicate.id:
        raise ValidationError({"duplicate": str(_l("A customer cannot be merged into itself."))})


def find_duplicate(session: Session, survivor: Customer, ref: str) -> Customer:
    """The customer ``ref`` names, to be merged into ``survivor``.

    Raises ValidationError (``duplicate``) for an unknown reference or the survivor itself.
    """
    ref = ref.strip() if isinstance(ref, str) else ""
    duplicate = find_customer(session, ref) if ref else None
    if duplicate is None:
        raise ValidationError(
            {"duplicate": str(_l("No customer with the reference %(ref)s.", ref=ref))}
        )
    check_merge(survivor, duplicate)
    return duplicate


def _lock(session: Session, survivor: Customer, duplicate: Customer) -> None:
    # In id order, so two merges of the same pair cannot deadlock (PostgreSQL; SQLite
    # serialises writers anyway).
    session.execute(
        select(Customer.id)
        .where(Customer.id.in_([survivor.id, duplicate.id]))
        .order_by(Customer.id)
        .with_for_update()
    )


def _fill_empty_fields(survivor: Customer, duplicate: Customer) -> list[str]:
    filled = []
    for name in FILLED_FIELDS:
        if getattr(survivor, name) in (None, "") and getattr(duplicate, name) not in (None, ""):
            setattr(survivor, name, getattr(duplicate, name))
            filled.append(name)
    # The same person: a customer since the earlier of the two dates.
    if duplicate.acquired_at < survivor.acquired_at:
        survivor.acquired_at = duplicate.acquired_at
        filled.append("acquired_at")
    referrer = duplicate.referred_by_id
    if survivor.referred_by_id == duplicate.id:
        # Referred by their own duplicate: take over whoever referred the duplicate.
        survivor.referred_by_id = referrer if referrer != survivor.id else None
        filled.append("referred_by")
    elif survivor.referred_by_id is None and referrer not in (None, survivor.id):
        survivor.referred_by_id = referrer
        filled.append("referred_by")
    return filled


def _move_rows(session: Session, survivor: Customer, duplicate: Customer) -> dict[str, int]:
    moved = {}
    for ref in customer_references():
        result = session.execute(
            update(ref.table).where(ref.column == duplicate.id).values({ref.column: survivor.id})
        )
        moved[ref.name] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return moved


def merge_customers(
    session: Session, survivor: Customer, duplicate: Customer, *, actor: User | None, at: datetime
) -> CustomerMerge:
    """Merge ``duplicate`` into ``survivor`` and delete it; return the record of the merge.

    Moves the duplicate's journey events, complaints, feedback, value records, survey
    invitations, earlier merges and the customers they referred; the duplicate's contact
    data fills the survivor's empty fields. Raises ValidationError (``duplicate``) for a
    merge of a customer into itself. The caller commits.
    """
    check_merge(survivor, duplicate)
    _lock(session, survivor, duplicate)
    # Events carry no foreign key: wait for event writes that may have looked up the
    # duplicate, and keep new ones out until the merge commits.
    lock_out_event_writes(session)
    before = customer_snapshot(survivor)
    filled = _fill_empty_fields(survivor, duplicate)
    survivor.updated_at = at
    merged_ref, merged_name, duplicate_id = duplicate.external_ref, duplicate.name, duplicate.id
    session.flush()
    moved = _move_rows(session, survivor, duplicate)
    session.expunge(duplicate)
    session.execute(delete(Customer.__table__).where(Customer.__table__.c.id == duplicate_id))
    # Loaded complaints, feedback, … still hold the old customer id: read them afresh.
    session.expire_all()
    merge = CustomerMerge(
        survivor_id=survivor.id,
        merged_ref=merged_ref,
        merged_name=merged_name,
        moved=moved,
        actor_id=actor.id if actor is not None else None,
        at=at,
    )
    session.add(merge)
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="customer.merged",
        entity_type="customer",
        entity_id=survivor.id,
        entity_label=survivor.external_ref,
        before=before,
        after={
            **customer_snapshot(survivor),
            "merged_ref": merged_ref,
            "merged_id": duplicate_id,
            "filled": filled,
            "moved": moved,
        },
    )
    return merge
