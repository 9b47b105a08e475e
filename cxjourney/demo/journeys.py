"""Demo journeys: what each demo customer went through, what they said, what they are worth.

Adds to the demo company, for every customer, over the last two years:

* **journey events**: the way in (awareness → purchase → confirmation → switch → welcome
  letter → meter installation, portal, direct debit → first invoice) for those acquired in
  that time; then everyday contacts (app, meter readings, newsletter, advance payments), a
  yearly meter reading and annual bill, now and then a price change, and support contacts;
  every complaint's receipt is a contact too (same customer, touchpoint, time and channel);
* for customers who left: an unhappy last stretch – a bill (first invoice or annual bill),
  repeated hotline calls, sometimes a written complaint – then the cancellation, sometimes a
  win-back call, and the final invoice at the churn date;
* **feedback** after some contacts: NPS at bills and the contract end, CSAT after support
  contacts, CES after self-service; lower at the planted touchpoints and from customers who
  later left; a quarter anonymous;
* **value records**: yearly revenue and cost per customer (by segment) from acquisition on.

The planted pattern the reports should find: meter installation, first invoice, annual bill
and hotline – neighbours on the designed map – carry most complaints (see ``complaints.py``),
the worst scores and the paths of those who left.

Drawn from ``random.Random(options.seed + 1)`` and the data already loaded, so the same seed
gives the same journeys. Rows go in with plain INSERTs in batches (no ORM objects in bulk).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..complaints.models import Complaint
from ..customers.models import Customer, CustomerValue, JourneyEvent, ValueKind
from ..feedback.models import FeedbackKind, FeedbackResponse, FeedbackSource
from ..journey.models import Channel, Touchpoint
from .services import DemoOptions, DemoResult

HISTORY = timedelta(days=730)  # two years of observed journeys
INSERT_BATCH = 5_000
SOURCE = "demo"

WAY_IN = [
    ["website", "price-comparison", "social-ads", "referral", "city-festival"],
    ["tariff-calculator", "online-signup", "sales-hotline", "customer-center-signup"],
    ["contract-confirmation"],
    ["supplier-switch"],
    ["welcome-letter"],
    ["meter-installation", "portal-registration", "direct-debit"],
]
EVERYDAY = {"app": 6, "meter-reading": 2, "newsletter": 3, "advance-payment": 2, "outage-notice": 1}
SUPPORT = {
    "hotline": 5,
    "email-support": 4,
    "chat": 3,
    "customer-center": 2,
    "social-care": 1,
    "written-complaint": 1,
}
PLANTED = {"meter-installation", "first-invoice", "annual-bill", "hotline"}

NPS_AT = {"first-invoice", "annual-bill", "price-change", "contract-renewal", "welcome-letter"}
CSAT_AT = set(SUPPORT) | {"meter-installation", "written-complaint", "sales-hotline"}
# Everything else asks how easy it was (CES).

COMMENTS = {
    "negative": [
        "Die Rechnung ist nicht nachvollziehbar.",
        "Dreimal angerufen, nie zurückgerufen.",
        "Der Abschlag ist viel zu hoch angesetzt.",
        "Der Monteur kam nicht zum vereinbarten Termin.",
        "Warteschleife über 20 Minuten.",
        "The bill makes no sense to me.",
    ],
    "positive": [
        "Schnell und freundlich geholfen.",
        "Alles verständlich erklärt.",
        "Die App ist praktisch.",
        "Quick and friendly, thank you.",
    ],
}
YEARLY_REVENUE = {
    "privat": (900, 1600),
    "gewerbe": (3000, 9000),
    "wohnungswirtschaft": (12000, 30000),
}


@dataclass(frozen=True)
class _Customer:
    id: int
    acquired_at: datetime
    churned_at: datetime | None
    segment: str | None


@dataclass(frozen=True)
class _Contact:
    touchpoint: str
    at: datetime
    channel: Channel


def _customers(session: Session) -> list[_Customer]:
    rows = session.execute(
        select(Customer.id, Customer.acquired_at, Customer.churned_at, Customer.segment).order_by(
            Customer.id
        )
    )
    return [_Customer(*row) for row in rows]


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    return start + (end - start) * rng.random()


def _way_in(
    rng: random.Random, customer: _Customer, channels: dict[str, Channel]
) -> list[_Contact]:
    contacts, at = [], customer.acquired_at - timedelta(days=rng.uniform(3, 21))
    for step, options in enumerate(WAY_IN):
        key = rng.choice(options)
        if step == 2:
            at = customer.acquired_at  # the contract is confirmed when the customer is won
        contacts.append(_Contact(key, at, channels[key]))
        at += timedelta(days=rng.uniform(1, 9), minutes=rng.randint(0, 600))
    first_invoice = customer.acquired_at + timedelta(days=rng.uniform(30, 45))
    contacts.append(_Contact("first-invoice", first_invoice, Channel.LETTER))
    return contacts


def _everyday(
    rng: random.Random, start: datetime, end: datetime, channels: dict[str, Channel]
) -> list[_Contact]:
    contacts: list[_Contact] = []
    months = max(0, int((end - start).days / 30))
    for _ in range(int(months * rng.uniform(0.6, 1.6))):
        key = rng.choices(list(EVERYDAY), weights=list(EVERYDAY.values()))[0]
        contacts.append(_Contact(key, _between(rng, start, end), channels[key]))
    for _ in range(int(months / 6 * rng.uniform(0.2, 1.0))):  # a question now and then
        key = rng.choices(list(SUPPORT), weights=list(SUPPORT.values()))[0]
        contacts.append(_Contact(key, _between(rng, start, end), channels[key]))
    return contacts


def _yearly(
    rng: random.Random, customer: _Customer, start: datetime, end: datetime
) -> list[_Contact]:
    contacts: list[_Contact] = []
    anniversary = customer.acquired_at + timedelta(days=365)
    while anniversary < end:
        if anniversary >= start:
            contacts.append(
                _Contact("meter-reading", anniversary - timedelta(days=10), Channel.WEB)
            )
            contacts.append(_Contact("annual-bill", anniversary, Channel.LETTER))
            if rng.random() < 0.2:  # the bill raised questions
                call = anniversary + timedelta(days=rng.uniform(2, 12))
                contacts.append(_Contact("hotline", call, Channel.PHONE))
            if rng.random() < 0.3:
                change = anniversary + timedelta(days=rng.uniform(20, 60))
                contacts.append(_Contact("price-change", change, Channel.LETTER))
        anniversary += timedelta(days=365)
    return contacts


def _way_out(rng: random.Random, customer: _Customer, churned_at: datetime) -> list[_Contact]:
    """The last stretch of a customer who left: the planted trouble, then the exit."""
    contacts: list[_Contact] = []
    trouble = churned_at - timedelta(days=rng.uniform(25, 70))
    if rng.random() < 0.8:
        bill = (
            "first-invoice"
            if churned_at - customer.acquired_at < timedelta(days=200)
            else ("annual-bill")
        )
        contacts.append(_Contact(bill, trouble, Channel.LETTER))
        for call in range(rng.choice([1, 2, 2, 3, 4])):  # calls that did not settle it
            at = trouble + timedelta(days=2 + 4 * call + rng.uniform(0, 3))
            contacts.append(_Contact("hotline", at, Channel.PHONE))
        if rng.random() < 0.25:
            at = trouble + timedelta(days=rng.uniform(15, 20))
            contacts.append(_Contact("written-complaint", at, Channel.LETTER))
    cancel = churned_at - timedelta(days=rng.uniform(14, 28))
    contacts.append(_Contact("cancellation", cancel, Channel.LETTER))
    if rng.random() < 0.4:
        contacts.append(_Contact("win-back-call", cancel + timedelta(days=3), Channel.PHONE))
    contacts.append(_Contact("final-invoice", churned_at, Channel.LETTER))
    return contacts


def _contacts(
    rng: random.Random, customer: _Customer, at: datetime, channels: dict[str, Channel]
) -> list[_Contact]:
    start = max(customer.acquired_at, at - HISTORY)
    end = min(customer.churned_at or at, at)
    contacts: list[_Contact] = []
    if customer.acquired_at >= at - HISTORY:
        contacts += _way_in(rng, customer, channels)
    if end > start:
        contacts += _everyday(rng, start, end, channels)
        contacts += _yearly(rng, customer, start, end)
    if customer.churned_at is not None and customer.churned_at >= at - HISTORY:
        contacts += _way_out(rng, customer, customer.churned_at)
    floor = at - HISTORY - timedelta(days=30)
    return [c for c in contacts if floor <= c.at <= at]


def _complaint_contacts(session: Session, keys: dict[int, str]) -> dict[int, list[_Contact]]:
    """Every complaint's receipt, as a contact of its customer."""
    found: dict[int, list[_Contact]] = {}
    rows = session.execute(
        select(
            Complaint.customer_id, Complaint.touchpoint_id, Complaint.received_at, Complaint.channel
        )
    )
    for customer_id, touchpoint_id, received_at, channel in rows:
        found.setdefault(customer_id, []).append(
            _Contact(keys[touchpoint_id], received_at, channel)
        )
    return found


def _score(rng: random.Random, kind: FeedbackKind, unhappy: bool) -> int:
    scores = list(kind.scores)
    if kind is FeedbackKind.NPS:
        weights = (
            [4, 3, 4, 5, 5, 6, 6, 7, 6, 3, 1] if unhappy else [1, 1, 1, 1, 1, 2, 3, 6, 12, 14, 10]
        )
    elif kind is FeedbackKind.CSAT:
        weights = [6, 5, 3, 2, 1] if unhappy else [1, 1, 3, 9, 9]
    else:
        weights = [5, 5, 4, 3, 2, 1, 1] if unhappy else [1, 1, 2, 3, 6, 9, 7]
    return rng.choices(scores, weights=weights)[0]


def _feedback(
    rng: random.Random,
    customer: _Customer,
    contact: _Contact,
    ids: dict[str, int],
    created: datetime,
) -> dict[str, Any] | None:
    if contact.touchpoint in ("cancellation", "win-back-call", "final-invoice"):
        return None
    planted = contact.touchpoint in PLANTED
    if rng.random() > (0.16 if planted else 0.07):
        return None
    if contact.touchpoint in NPS_AT:
        kind = FeedbackKind.NPS
    elif contact.touchpoint in CSAT_AT:
        kind = FeedbackKind.CSAT
    else:
        kind = FeedbackKind.CES
    leaving = customer.churned_at is not None
    unhappy = rng.random() < (0.55 if planted else 0.12) + (0.25 if leaving else 0.0)
    score = _score(rng, kind, unhappy)
    comment = None
    if rng.random() < 0.4:
        comment = rng.choice(COMMENTS["negative" if kind.is_negative(score) else "positive"])
    anonymous = rng.random() < 0.25
    submitted = contact.at + timedelta(hours=rng.uniform(1, 72))
    return {
        "touchpoint_id": ids[contact.touchpoint],
        "kind": kind,
        "score": score,
        "comment": comment,
        "channel": contact.channel,
        "submitted_at": min(submitted, created),
        "customer_id": None if anonymous else customer.id,
        "complaint_id": None,
        "contact_consent": False,
        "follow_up_id": None,
        "source": FeedbackSource.IMPORT,
        "link_id": None,
        "created_by_id": None,
        "created_at": created,
    }


def _values(
    rng: random.Random, customer: _Customer, at: datetime, created: datetime
) -> Iterator[dict[str, Any]]:
    low, high = YEARLY_REVENUE.get(customer.segment or "privat", YEARLY_REVENUE["privat"])
    revenue = rng.uniform(low, high)
    margin = rng.uniform(0.08, 0.22)
    day = customer.acquired_at
    end = min(customer.churned_at or at, at)
    while day < end:
        on: date = day.date()
        for kind, amount in (
            (ValueKind.REVENUE, revenue),
            (ValueKind.COST, revenue * (1 - margin)),
        ):
            yield {
                "customer_id": customer.id,
                "kind": kind,
                "amount": Decimal(f"{amount:.2f}"),
                "occurred_on": on,
                "source": SOURCE,
                "created_at": created,
            }
        day += timedelta(days=365)
        revenue *= rng.uniform(0.97, 1.08)


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(model.__table__), rows[start : start + INSERT_BATCH])


def load_journey_demo(session: Session, options: DemoOptions, result: DemoResult) -> None:
    """The demo step: journey events, feedback and value records (see the module docstring)."""
    rng = random.Random(options.seed + 1)  # noqa: S311 - demo data, reproducible on purpose
    at = options.at
    touchpoints = session.execute(select(Touchpoint.id, Touchpoint.key, Touchpoint.channel)).all()
    ids = {key: tp_id for tp_id, key, _channel in touchpoints}
    channels = {key: channel or Channel.WEB for _id, key, channel in touchpoints}
    by_complaint = _complaint_contacts(session, {tp_id: key for tp_id, key, _c in touchpoints})
    events: list[dict[str, Any]] = []
    feedback: list[dict[str, Any]] = []
    values: list[dict[str, Any]] = []
    for customer in _customers(session):
        contacts = _contacts(rng, customer, at, channels) + by_complaint.get(customer.id, [])
        contacts.sort(key=lambda c: c.at)
        for contact in contacts:
            events.append(
                {
                    "customer_id": customer.id,
                    "touchpoint_id": ids[contact.touchpoint],
                    "occurred_at": contact.at,
                    "channel": contact.channel,
                    "source": SOURCE,
                    "created_at": at,
                }
            )
            if (row := _feedback(rng, customer, contact, ids, at)) is not None:
                feedback.append(row)
        values.extend(_values(rng, customer, at, at))
    _insert(session, JourneyEvent, events)
    _insert(session, FeedbackResponse, sorted(feedback, key=lambda r: r["submitted_at"]))
    _insert(session, CustomerValue, values)
    session.commit()
    result.counts["journey events"] = len(events)
    result.counts["feedback responses"] = len(feedback)
    result.counts["value records"] = len(values)
