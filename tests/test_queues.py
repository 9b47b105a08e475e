"""Queues and the team dashboard: my queue, team queue filters and sorting, paging, bulk
reassign, CSV export, dashboard figures on a hand-computed example, and who may see what."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role, User
from cxjourney.complaints import csv_export, dashboard, lifecycle, queues
from cxjourney.complaints.models import (
    Complaint,
    ComplaintEvent,
    ComplaintStatus,
    EventKind,
    ResolutionCode,
)
from cxjourney.complaints.queues import AgeBand, QueueFilter, Sort, SortKey
from cxjourney.complaints.sla import SlaState
from cxjourney.extensions import utcnow

from .conftest import csrf_from, make_user
from .factories import (
    make_category,
    make_complaint,
    make_customer,
    make_policy,
    make_team,
    make_touchpoint,
    settings_for,
)

BERLIN = ZoneInfo("Europe/Berlin")
# "Now" of the service-level tests: 12:00 in Berlin (summer time).
N = datetime(2026, 6, 30, 10, 0, tzinfo=UTC)
OPEN = (ComplaintStatus.NEW, ComplaintStatus.IN_PROGRESS, ComplaintStatus.WAITING_ON_CUSTOMER)


@pytest.fixture
def settings(app: Flask) -> Any:
    return settings_for(app.config)


@pytest.fixture
def world(db_session: Session) -> dict[str, Any]:
    """Two teams, their touchpoints, around-the-clock policies for medium and high."""
    make_team(db_session, "Kundenservice")
    make_team(db_session, "Online")
    make_touchpoint(db_session, "hotline", owner_team="Kundenservice")
    make_touchpoint(db_session, "website", owner_team="Kundenservice")
    make_touchpoint(db_session, "app", owner_team="Online")
    make_category(db_session)
    make_customer(db_session)
    make_policy(db_session, "medium", business_hours=False)  # 4 h, 8 h, 40 h
    make_policy(
        db_session,
        "high",
        business_hours=False,
        first_response_minutes=60,
        next_update_minutes=240,
        resolution_minutes=1440,
    )
    db_session.commit()
    return {}


def person(session: Session, email: str, name: str, role: Role = Role.AGENT, **kw: Any) -> User:
    user = make_user(session, role, email=email, team=kw.pop("team", "Kundenservice"), **kw)
    user.name = name
    session.commit()
    return user


def log(session: Session, settings: Any, received: datetime, **kw: Any) -> Complaint:
    """A complaint logged at the moment it was received."""
    return make_complaint(session, settings, at=received, **kw)


def assign(session: Session, complaint: Complaint, user: User | None, at: datetime) -> None:
    lifecycle.assign_complaint(session, complaint, team=None, assignee=user, actor=None, at=at)
    session.commit()


def reply(session: Session, settings: Any, complaint: Complaint, at: datetime) -> None:
    from cxjourney.journey.models import Channel

    lifecycle.add_reply(
        session,
        complaint,
        text="Wir kümmern uns.",
        channel=Channel.EMAIL,
        actor=None,
        at=at,
        settings=settings,
    )
    session.commit()


def resolve(session: Session, settings: Any, complaint: Complaint, at: datetime) -> None:
    lifecycle.transition_complaint(
        session,
        complaint,
        to=ComplaintStatus.RESOLVED,
        actor=None,
        at=at,
        settings=settings,
        resolution_code=ResolutionCode.REFUND,
        resolution="Erstattet.",
    )
    session.commit()


# --- the team queue example (services, at N) ---------------------------------------------------


@pytest.fixture
def queue(db_session: Session, settings: Any, world: dict) -> dict[str, Any]:
    """k1–k5 in Kundenservice, k6 in Online:

    k1 hotline  medium  N-2 h    Anna      new          ok (fr due N+2 h, half used)
    k2 website  medium  N-3.5 h  nobody    new          at risk (87.5 % of 4 h used)
    k3 hotline  high    N-2 d    Bernd     new          breached (fr due N-2 d+1 h)
    k4 website  low     N-5 d    Anna      in progress  ok (no policy for low)
    k5 hotline  medium  N-10 d   Bernd     resolved     ok
    """
    anna = person(db_session, "anna@example.org", "Anna Aigner")
    bernd = person(db_session, "bernd@example.org", "Bernd Brandt")
    lead = person(db_session, "lead@example.org", "Lea Lead", Role.TEAM_LEAD)
    k1 = log(db_session, settings, N - timedelta(hours=2))
    k2 = log(db_session, settings, N - timedelta(hours=3, minutes=30), touchpoint="website")
    k3 = log(db_session, settings, N - timedelta(days=2), severity="high")
    k4 = log(db_session, settings, N - timedelta(days=5), touchpoint="website", severity="low")
    k5 = log(db_session, settings, N - timedelta(days=10))
    k6 = log(db_session, settings, N - timedelta(hours=1), touchpoint="app")
    assign(db_session, k1, anna, N - timedelta(hours=1))
    assign(db_session, k3, bernd, N - timedelta(days=1))
    assign(db_session, k4, anna, N - timedelta(days=4))
    assign(db_session, k5, bernd, N - timedelta(days=9))
    reply(db_session, settings, k4, N - timedelta(days=4))
    reply(db_session, settings, k5, N - timedelta(days=10) + timedelta(hours=1))
    resolve(db_session, settings, k5, N - timedelta(days=10) + timedelta(hours=5))
    team = make_team(db_session, "Kundenservice")
    return {
        "k1": k1,
        "k2": k2,
        "k3": k3,
        "k4": k4,
        "k5": k5,
        "k6": k6,
        "anna": anna,
        "bernd": bernd,
        "lead": lead,
        "team": team,
    }


def names(
    session: Session,
    settings: Any,
    q: dict[str, Any],
    sort: Sort | None = None,
    **filters: Any,
) -> list[str]:
    """The queue's rows as k-names, in order (default filter: the team's open complaints)."""
    filters.setdefault("statuses", OPEN)
    result = queues.list_queue(
        session,
        QueueFilter(team_id=q["team"].id, **filters),
        sort or Sort(SortKey.RECEIVED, descending=True),
        viewer=q["lead"],
        calendar=settings.calendar,
        now=N,
    )
    by_id = {v.id: k for k, v in q.items() if isinstance(v, Complaint)}
    return [by_id[row.complaint.id] for row in result.rows]


def test_the_team_queue_shows_the_teams_open_complaints(db_session, settings, queue) -> None:
    assert names(db_session, settings, queue) == ["k1", "k2", "k3", "k4"]
    every = tuple(ComplaintStatus)
    assert names(db_session, settings, queue, statuses=every) == ["k1", "k2", "k3", "k4", "k5"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"statuses": (ComplaintStatus.RESOLVED,)}, ["k5"]),
        ({"statuses": (ComplaintStatus.NEW, ComplaintStatus.RESOLVED)}, ["k1", "k2", "k3", "k5"]),
        ({"statuses": (ComplaintStatus.IN_PROGRESS,)}, ["k4"]),
        ({"sla_state": SlaState.BREACHED}, ["k3"]),
        ({"sla_state": SlaState.AT_RISK}, ["k2"]),
        ({"sla_state": SlaState.OK}, ["k1", "k4"]),
        ({"touchpoint_key": "website"}, ["k2", "k4"]),
        ({"touchpoint_key": "no-such-touchpoint"}, []),
        ({"assignee": "anna"}, ["k1", "k4"]),
        ({"unassigned": True}, ["k2"]),
        ({"age_band": AgeBand.UNDER_1D}, ["k1", "k2"]),
        ({"age_band": AgeBand.D1_TO_3}, ["k3"]),
        ({"age_band": AgeBand.D3_TO_7}, ["k4"]),
        ({"age_band": AgeBand.OVER_7D}, []),
        ({"age_band": AgeBand.OVER_7D, "statuses": tuple(ComplaintStatus)}, ["k5"]),
    ],
)
def test_each_filter_narrows_the_team_queue(
    db_session, settings, queue, filters: dict, expected: list[str]
) -> None:
    if "assignee" in filters:
        filters["assignee_id"] = queue[filters.pop("assignee")].id
    assert names(db_session, settings, queue, **filters) == expected


def test_filters_combine(db_session, settings, queue) -> None:
    every = tuple(ComplaintStatus)
    bernd = queue["bernd"].id
    assert names(
        db_session, settings, queue, touchpoint_key="hotline", assignee_id=bernd, statuses=every
    ) == ["k3", "k5"]
    assert names(
        db_session,
        settings,
        queue,
        touchpoint_key="hotline",
        assignee_id=bernd,
        statuses=every,
        sla_state=SlaState.BREACHED,
    ) == ["k3"]
    assert names(db_session, settings, queue, touchpoint_key="website", sla_state=SlaState.OK) == [
        "k4"
    ]
    assert names(db_session, settings, queue, age_band=AgeBand.UNDER_1D, sla_state=SlaState.OK) == [
        "k1"
    ]


@pytest.mark.parametrize(
    ("key", "descending", "expected"),
    [
        (SortKey.RECEIVED, True, ["k1", "k2", "k3", "k4"]),
        (SortKey.RECEIVED, False, ["k4", "k3", "k2", "k1"]),
        (SortKey.SEVERITY, True, ["k3", "k1", "k2", "k4"]),
        (SortKey.SEVERITY, False, ["k4", "k1", "k2", "k3"]),
        (SortKey.STATUS, False, ["k1", "k2", "k3", "k4"]),
        (SortKey.STATUS, True, ["k4", "k1", "k2", "k3"]),
        # Anna's, then Bernd's; nobody last either way
        (SortKey.ASSIGNEE, False, ["k1", "k4", "k3", "k2"]),
        (SortKey.ASSIGNEE, True, ["k3", "k1", "k4", "k2"]),
        # earliest running clock first; no clock (no policy) last either way
        (SortKey.DUE, False, ["k3", "k2", "k1", "k4"]),
        (SortKey.DUE, True, ["k1", "k2", "k3", "k4"]),
    ],
)
def test_sorting(db_session, settings, queue, key, descending, expected) -> None:
    assert names(db_session, settings, queue, Sort(key, descending)) == expected


def test_queue_rows_carry_the_sla_state_and_the_next_due(db_session, settings, queue) -> None:
    result = queues.list_queue(
        db_session,
        QueueFilter(team_id=queue["team"].id, statuses=OPEN),
        Sort(SortKey.DUE),
        viewer=queue["lead"],
        calendar=settings.calendar,
        now=N,
    )
    states = {r.complaint.reference: (r.sla.overall, r.next_due_at) for r in result.rows}
    assert states[queue["k3"].reference] == (
        SlaState.BREACHED,
        N - timedelta(days=2) + timedelta(hours=1),
    )
    assert states[queue["k2"].reference] == (SlaState.AT_RISK, N + timedelta(minutes=30))
    assert states[queue["k1"].reference] == (SlaState.OK, N + timedelta(hours=2))
    assert states[queue["k4"].reference] == (SlaState.OK, None)


def test_paging_fifty_a_page(db_session, settings, world) -> None:
    lead = person(db_session, "lead@example.org", "Lea Lead", Role.TEAM_LEAD)
    team = make_team(db_session, "Kundenservice")
    for i in range(53):
        log(db_session, settings, N - timedelta(minutes=10 * i + 1))

    def page(n: int) -> queues.QueuePage:
        return queues.list_queue(
            db_session,
            QueueFilter(team_id=team.id),
            Sort(SortKey.RECEIVED, descending=True),
            viewer=lead,
            calendar=settings.calendar,
            now=N,
            page=n,
        )

    first, second, beyond = page(1), page(2), page(9)
    assert (first.total, first.pages, len(first.rows)) == (53, 2, 50)
    assert len(second.rows) == 3
    assert beyond.page == 2
    assert [r.complaint.id for r in beyond.rows] == [r.complaint.id for r in second.rows]
    seen = [r.complaint.id for r in first.rows + second.rows]
    assert len(set(seen)) == 53
    received = [r.complaint.received_at for r in first.rows + second.rows]
    assert received == sorted(received, reverse=True)


def test_paging_with_the_at_risk_filter(db_session, settings, world) -> None:
    lead = person(db_session, "lead@example.org", "Lea Lead", Role.TEAM_LEAD)
    team = make_team(db_session, "Kundenservice")
    for i in range(52):  # 3.5 h of 4 h used: at risk
        log(db_session, settings, N - timedelta(hours=3, minutes=30, seconds=i))
    log(db_session, settings, N - timedelta(minutes=5))  # on track
    result = queues.list_queue(
        db_session,
        QueueFilter(team_id=team.id, sla_state=SlaState.AT_RISK),
        Sort(SortKey.RECEIVED, descending=True),
        viewer=lead,
        calendar=settings.calendar,
        now=N,
        page=2,
    )
    assert (result.total, result.pages, len(result.rows)) == (52, 2, 2)
    assert {r.sla.overall for r in result.rows} == {SlaState.AT_RISK}


# --- pages -------------------------------------------------------------------------------------


def _refs(html: str) -> list[str]:
    return re.findall(r">(CX-\d{4}-\d{6})</a>", html)


def test_my_queue_shows_only_mine_open_first(
    client: FlaskClient, db_session, settings, world, login_as
) -> None:
    me = login_as(Role.AGENT, team="Kundenservice", language="en")
    other = person(db_session, "other@example.org", "Otto Other")
    now = utcnow()
    done = log(db_session, settings, now - timedelta(days=3))  # earliest due, but resolved
    mine = log(db_session, settings, now - timedelta(hours=1))
    theirs = log(db_session, settings, now - timedelta(hours=2))
    nobodys = log(db_session, settings, now - timedelta(hours=3))
    for complaint, user in ((done, me), (mine, me), (theirs, other)):
        assign(db_session, complaint, user, now - timedelta(minutes=30))
    resolve(db_session, settings, done, now - timedelta(minutes=20))

    response = client.get("/queue")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _refs(html) == [mine.reference, done.reference]
    assert theirs.reference not in html
    assert nobodys.reference not in html
    assert f'href="/complaints/{mine.reference}"' in html
    # the SLA state as text and as a class, not colour alone
    assert re.search(r'class="sla sla-ok">\s*on time', html)


def test_team_queue_page_filters_sorts_and_links_pages(
    client: FlaskClient, db_session, settings, world, login_as
) -> None:
    login_as(Role.TEAM_LEAD, team="Kundenservice", language="en")
    now = utcnow()
    website = [
        log(db_session, settings, now - timedelta(minutes=i + 1), touchpoint="website")
        for i in range(51)
    ]
    hotline = log(db_session, settings, now - timedelta(hours=30))
    page1 = client.get("/team-queue?sort=received&dir=desc").get_data(as_text=True)
    assert page1.count('name="complaint"') == 50
    assert _refs(page1)[0] == website[0].reference
    assert "page=2" in page1
    page2 = client.get("/team-queue?sort=received&dir=desc&page=2").get_data(as_text=True)
    assert _refs(page2) == [website[50].reference, hotline.reference]
    filtered = client.get("/team-queue?touchpoint=hotline&age=1-3d").get_data(as_text=True)
    assert _refs(filtered) == [hotline.reference]
    oldest_first = client.get("/team-queue?sort=received&dir=asc").get_data(as_text=True)
    assert _refs(oldest_first)[0] == hotline.reference
    # anything outside the whitelist falls back to the default order, never an error
    odd = client.get("/team-queue?sort=subject;drop&dir=sideways&age=x&sla=y&assignee=z")
    assert odd.status_code == 200


def test_a_team_lead_sees_only_their_own_team(
    client: FlaskClient, db_session, settings, world, login_as
) -> None:
    login_as(Role.TEAM_LEAD, team="Kundenservice", language="en")
    now = utcnow()
    ours = log(db_session, settings, now - timedelta(hours=1))
    online = log(db_session, settings, now - timedelta(hours=1), touchpoint="app")
    other_team = make_team(db_session, "Online")
    html = client.get(f"/team-queue?team={other_team.id}").get_data(as_text=True)
    assert _refs(html) == [ours.reference]
    assert online.reference not in html
    assert 'id="filter-team"' not in html  # nothing to choose


def test_an_admin_picks_the_team(
    client: FlaskClient, db_session, settings, world, login_as
) -> None:
    login_as(Role.ADMIN, language="en")
    now = utcnow()
    log(db_session, settings, now - timedelta(hours=1))
    online = log(db_session, settings, now - timedelta(hours=1), touchpoint="app")
    team = make_team(db_session, "Online")
    html = client.get(f"/team-queue?team={team.id}").get_data(as_text=True)
    assert "filter-team" in html
    assert _refs(html) == [online.reference]
    assert client.get("/team-queue?team=99999").status_code == 404


# --- bulk reassign -----------------------------------------------------------------------------


def test_bulk_reassign_moves_reports_stale_and_writes_events(
    client: FlaskClient, db_session, settings, world, login_as
) -> None:
    lead = login_as(Role.TEAM_LEAD, team="Kundenservice", language="en")
    anna = person(db_session, "anna@example.org", "Anna Aigner")
    bernd = person(db_session, "bernd@example.org", "Bernd Brandt")
    now = utcnow()
    c1, c2, c3 = (log(db_session, settings, now - timedelta(hours=h)) for h in (1, 2, 3))
    page = client.get("/team-queue").get_data(as_text=True)
    versions = dict(re.findall(r'name="version-(\d+)" value="(\d+)"', page))
    # Someone else gives c3 to Bernd after the lead opened the page.
    assign(db_session, c3, bernd, now)

    response = client.post(
        "/team-queue/reassign",
        data={
            "csrf_token": csrf_from(page),
            "team": "",
            "back": "sort=received&dir=desc",
            "assignee": str(anna.id),
            "complaint": [str(c.id) for c in (c1, c2, c3)],
            **{f"version-{k}": v for k, v in versions.items()},
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/team-queue?sort=received&dir=desc")
    db_session.expire_all()
    holders = {
        c.id: c.assignee_id
        for c in db_session.scalars(
            select(Complaint).where(Complaint.id.in_([c1.id, c2.id, c3.id]))
        )
    }
    assert holders == {c1.id: anna.id, c2.id: anna.id, c3.id: bernd.id}
    events = db_session.scalars(
        select(ComplaintEvent).where(
            ComplaintEvent.kind == EventKind.ASSIGNED, ComplaintEvent.actor_id == lead.id
        )
    ).all()
    assert sorted(e.complaint_id for e in events) == [c1.id, c2.id]
    assert all(e.data["to"] == "anna@example.org" for e in events)

    flashes = client.get("/team-queue").get_data(as_text=True)
    assert "2 complaints reassigned." in flashes
    assert re.search(rf"1 complaint was changed by someone else.*{c3.reference}", flashes)


def test_bulk_reassign_back_to_the_team_queue(
    client: FlaskClient, db_session, settings, world, login_as
) -> None:
    login_as(Role.TEAM_LEAD, team="Kundenservice", language="en")
    anna = person(db_session, "anna@example.org", "Anna Aigner")
    complaint = log(db_session, settings, utcnow() - timedelta(hours=1))
    assign(db_session, complaint, anna, utcnow())
    page = client.get("/team-queue").get_data(as_text=True)
    version = re.search(rf'name="version-{complaint.id}" value="(\d+)"', page).group(1)
    client.post(
        "/team-queue/reassign",
        data={
            "csrf_token": csrf_from(page),
            "assignee": "",
            "complaint": str(complaint.id),
            f"version-{complaint.id}": version,
        },
    )
    db_session.expire_all()
    assert db_session.get(Complaint, complaint.id).assignee_id is None


def test_bulk_reassign_refuses_other_teams_complaints_and_outsiders(
    client: FlaskClient, db_session, settings, world, login_as
) -> None:
    login_as(Role.TEAM_LEAD, team="Kundenservice", language="en")
    anna = person(db_session, "anna@example.org", "Anna Aigner")
    olga = person(db_session, "olga@example.org", "Olga Online", team="Online")
    online = log(db_session, settings, utcnow() - timedelta(hours=1), touchpoint="app")
    page = client.get("/team-queue").get_data(as_text=True)
    token = csrf_from(page)
    base = {"csrf_token": token, "complaint": str(online.id), f"version-{online.id}": "1"}
    client.post("/team-queue/reassign", data={**base, "assignee": str(anna.id)})
    html = client.get("/team-queue").get_data(as_text=True)
    assert "1 complaint is not in this team&#39;s queue" in html
    client.post("/team-queue/reassign", data={**base, "assignee": str(olga.id)})
    assert "Choose an active agent" in client.get("/team-queue").get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Complaint, online.id).assignee_id is None


def test_reassign_service_runs_in_one_transaction(db_session, settings, queue) -> None:
    outcome = queues.reassign_complaints(
        db_session,
        team=queue["team"],
        items=[(queue["k2"].id, queue["k2"].version), (queue["k1"].id, queue["k1"].version - 1)],
        assignee=queue["bernd"],
        actor=queue["lead"],
        at=N,
    )
    assert outcome.moved == [queue["k2"].reference]
    assert outcome.stale == [queue["k1"].reference]
    db_session.rollback()  # the caller did not commit: nothing is saved
    db_session.expire_all()
    assert db_session.get(Complaint, queue["k2"].id).assignee_id is None


# --- CSV ---------------------------------------------------------------------------------------


def _csv_world(db_session: Session, settings: Any) -> tuple[Complaint, Complaint]:
    now = utcnow()
    formula = log(
        db_session,
        settings,
        now - timedelta(hours=2),
        subject='=HYPERLINK("http://evil.example","Klick")',
    )
    plain = log(
        db_session, settings, now - timedelta(hours=1), touchpoint="website", subject="Zähler"
    )
    return formula, plain


def test_csv_for_excel_has_bom_semicolons_and_neutralised_formulas(
    client: FlaskClient, db_session, settings, world, login_as
) -> None:
    login_as(Role.TEAM_LEAD, team="Kundenservice")
    formula, plain = _csv_world(db_session, settings)
    response = client.get("/team-queue.csv?dialect=excel-de&sort=received&dir=asc")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    today = utcnow().astimezone(BERLIN).date().isoformat()
    assert disposition == f'attachment; filename="team-queue-{today}.csv"'
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    text = body[3:].decode("utf-8")
    assert text.splitlines()[0] == ";".join(csv_export.COLUMNS)
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert [r["reference"] for r in rows] == [formula.reference, plain.reference]
    assert rows[0]["subject"] == '\'=HYPERLINK("http://evil.example","Klick")'
    assert rows[1]["subject"] == "Zähler"
    assert rows[0]["received_at"] == formula.received_at.astimezone(BERLIN).isoformat(
        timespec="seconds"
    )
    assert rows[0]["first_response_due"] == formula.first_response_due_at.astimezone(
        BERLIN
    ).isoformat(timespec="seconds")
    assert rows[0]["touchpoint"] == "hotline"
    assert rows[0]["category"] == "billing"
    assert rows[0]["team"] == "Kundenservice"
    assert rows[0]["assignee"] == ""
    assert rows[0]["customer_ref"] == "K-1000"
    assert rows[0]["status"] == "new"
    assert rows[0]["severity"] == "medium"
    assert rows[0]["sla_state"] == "ok"


def test_plain_csv_has_no_bom_and_commas_and_honours_the_filters(
    client: FlaskClient, db_session, settings, world, login_as
) -> None:
    login_as(Role.TEAM_LEAD, team="Kundenservice")
    _formula, plain = _csv_world(db_session, settings)
    body = client.get("/team-queue.csv?dialect=csv&touchpoint=website").get_data()
    assert not body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8")
    assert text.splitlines()[0] == ",".join(csv_export.COLUMNS)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["reference"] for r in rows] == [plain.reference]
    breached_only = client.get("/team-queue.csv?dialect=csv&sla=breached").get_data()
    assert len(breached_only.decode().splitlines()) == 1  # the header alone
    assert client.get("/team-queue.csv?dialect=xlsx").status_code == 400


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+49 30 1234", "'+49 30 1234"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tindent", "'\tindent"),
        ("\rreturn", "'\rreturn"),
        ("CX-2026-000001", "CX-2026-000001"),
        ("Betrag = 5", "Betrag = 5"),
        ("", ""),
    ],
)
def test_formula_cells_are_neutralised(value: str, expected: str) -> None:
    assert csv_export.neutralise(value) == expected


# --- dashboard ---------------------------------------------------------------------------------


def test_percentile_cont_interpolates_linearly() -> None:
    assert dashboard.percentile_cont([], 0.5) is None
    assert dashboard.percentile_cont([7.0], 0.5) == 7.0
    assert dashboard.percentile_cont([10.0, 1.0, 5.0, 3.0], 0.5) == 4.0
    assert dashboard.percentile_cont([1.0, 3.0, 5.0, 10.0], 0.9) == pytest.approx(8.5)


@pytest.fixture
def dashboard_world(db_session: Session, settings: Any, world: dict) -> dict[str, Any]:
    """Hand-computed example (N = 30 June 2026, 10:00 UTC; medium: 4 h / 8 h / 40 h).

    Last 30 days: A fr 1 h, res 6 h (met) · B fr 3 h, res 50 h (late) · C fr 5 h, open
    (late) · D fr 10 h, open (late) · E open 1 h, not late · F, G low (no clocks), open.
    The 30 days before: H fr 2 h, res 20 h (met). Earlier: I (resolved). Online: J (open).
    """
    anna = person(db_session, "anna@example.org", "Anna Aigner")
    bernd = person(db_session, "bernd@example.org", "Bernd Brandt")
    idle = person(db_session, "carl@example.org", "Carl Calm")
    received = {
        "A": datetime(2026, 6, 10, 8, 0, tzinfo=UTC),
        "B": datetime(2026, 6, 12, 8, 0, tzinfo=UTC),
        "C": datetime(2026, 6, 20, 8, 0, tzinfo=UTC),
        "D": datetime(2026, 6, 25, 10, 0, tzinfo=UTC),
        "E": datetime(2026, 6, 30, 9, 0, tzinfo=UTC),
        "F": datetime(2026, 6, 28, 12, 0, tzinfo=UTC),
        "G": datetime(2026, 6, 29, 20, 0, tzinfo=UTC),
        "H": datetime(2026, 5, 20, 8, 0, tzinfo=UTC),
        "I": datetime(2026, 4, 1, 8, 0, tzinfo=UTC),
        "J": datetime(2026, 6, 30, 8, 0, tzinfo=UTC),
    }
    extra = {"F": {"severity": "low"}, "G": {"severity": "low"}, "J": {"touchpoint": "app"}}
    c = {k: log(db_session, settings, at, **extra.get(k, {})) for k, at in received.items()}
    hours = timedelta(hours=1)
    for key, first, resolved in (
        ("A", 1, 6),
        ("B", 3, 50),
        ("C", 5, None),
        ("D", 10, None),
        ("H", 2, 20),
        ("I", 1, 2),
    ):
        reply(db_session, settings, c[key], received[key] + first * hours)
        if resolved is not None:
            resolve(db_session, settings, c[key], received[key] + resolved * hours)
    assign(db_session, c["C"], anna, received["C"] + hours)
    assign(db_session, c["D"], anna, received["D"] + hours)
    assign(db_session, c["E"], bernd, received["E"] + timedelta(minutes=5))
    return {"c": c, "anna": anna, "bernd": bernd, "idle": idle}


def test_dashboard_figures_on_the_hand_computed_example(
    db_session, settings, dashboard_world
) -> None:
    team = make_team(db_session, "Kundenservice")
    loaded: list[Any] = []
    listener = lambda target, context: loaded.append(target)  # noqa: E731
    event.listen(Complaint, "load", listener)
    try:
        figures = dashboard.dashboard(db_session, team=team, now=N, timezone="Europe/Berlin")
    finally:
        event.remove(Complaint, "load", listener)
    assert loaded == []  # aggregates and plain columns only

    assert figures.open_total == 5
    assert figures.age_bands == {
        AgeBand.UNDER_1D: 2,  # E (1 h), G (14 h)
        AgeBand.D1_TO_3: 1,  # F (1 d 22 h)
        AgeBand.D3_TO_7: 1,  # D (5 d)
        AgeBand.OVER_7D: 1,  # C (10 d)
    }
    assert figures.breached == 2  # C, D
    assert figures.due_today == 3  # C and D overdue, E's first response at 13:00 UTC
    loads = {(a.user.email, a.open, a.breached) for a in figures.workload}
    assert loads == {
        ("anna@example.org", 2, 2),
        ("bernd@example.org", 1, 0),
        ("carl@example.org", 0, 0),
    }
    assert figures.workload[0].user.email == "anna@example.org"
    assert (figures.unassigned.open, figures.unassigned.breached) == (2, 0)

    now = figures.current
    assert (now.start, now.end) == (N - timedelta(days=30), N)
    assert now.received == 7
    assert now.first_response_median_h == pytest.approx(4.0)  # 1, 3, 5, 10
    assert now.resolution_median_h == pytest.approx(28.0)  # 6, 50
    assert (now.decided, now.met) == (4, 1)  # A met; B, C, D late; E, F, G left out
    assert now.sla_compliance == pytest.approx(25.0)

    before = figures.previous
    assert before.received == 1
    assert before.first_response_median_h == pytest.approx(2.0)
    assert before.resolution_median_h == pytest.approx(20.0)
    assert before.sla_compliance == pytest.approx(100.0)


def test_dashboard_for_every_team_and_an_empty_window(
    db_session, settings, dashboard_world
) -> None:
    everyone = dashboard.dashboard(db_session, team=None, now=N, timezone="Europe/Berlin")
    assert everyone.open_total == 6
    assert everyone.age_bands[AgeBand.UNDER_1D] == 3
    later = dashboard.dashboard(
        db_session, team=None, now=N + timedelta(days=200), timezone="Europe/Berlin"
    )
    for window in (later.current, later.previous):
        assert window.received == 0
        assert window.first_response_median_h is None
        assert window.resolution_median_h is None
        assert window.sla_compliance is None


def _figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{re.escape(name)}">([^<]*)<', html)
    assert match, name
    return match.group(1).strip()


def test_dashboard_page_shows_counts_and_a_dash_for_empty_populations(
    client: FlaskClient, db_session, settings, world, login_as
) -> None:
    login_as(Role.TEAM_LEAD, team="Kundenservice", language="en")
    # low: no SLA policy, so neither met nor breached (left out of the compliance)
    log(db_session, settings, utcnow() - timedelta(days=2), severity="low")
    log(db_session, settings, utcnow() - timedelta(hours=1), touchpoint="app")  # Online
    html = client.get("/dashboard").get_data(as_text=True)
    assert _figure(html, "open") == "1"
    assert _figure(html, "band-1-3d") == "1"
    assert _figure(html, "band-lt1d") == "0"
    assert _figure(html, "open-unassigned") == "1"
    assert _figure(html, "current-received") == "1"
    for name in ("first-response", "resolution", "compliance"):
        assert _figure(html, f"current-{name}") == "–"
        assert _figure(html, f"previous-{name}") == "–"
    assert _figure(html, "previous-received") == "0"


def test_an_admin_sees_every_team_on_the_dashboard(
    client: FlaskClient, db_session, settings, world, login_as
) -> None:
    login_as(Role.ADMIN, language="en")
    log(db_session, settings, utcnow() - timedelta(hours=2))
    log(db_session, settings, utcnow() - timedelta(hours=1), touchpoint="app")
    assert _figure(client.get("/dashboard").get_data(as_text=True), "open") == "2"
    online = make_team(db_session, "Online")
    html = client.get(f"/dashboard?team={online.id}").get_data(as_text=True)
    assert _figure(html, "open") == "1"


# --- permissions -------------------------------------------------------------------------------


LEAD_ONLY = [("GET", "/team-queue"), ("GET", "/team-queue.csv"), ("GET", "/dashboard")]


def _request(client: FlaskClient, method: str, url: str, token: str) -> Any:
    if method == "POST":
        return client.post(url, data={"csrf_token": token, "complaint": "1", "assignee": ""})
    return client.get(url)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.VIEWER, set()),
        (Role.TOUCHPOINT_MANAGER, {"/queue"}),
        (Role.AGENT, {"/queue"}),
        (Role.TEAM_LEAD, {"/queue", "/team-queue", "/team-queue.csv", "/dashboard"}),
        (Role.ADMIN, {"/queue", "/team-queue", "/team-queue.csv", "/dashboard"}),
    ],
)
def test_who_may_open_the_queues_and_the_dashboard(
    client: FlaskClient, world, login_as: Callable[..., User], role: Role, allowed: set[str]
) -> None:
    login_as(role, team="Kundenservice" if role is not Role.VIEWER else None)
    token = csrf_from(client.get("/account").get_data(as_text=True))
    for method, url in [("GET", "/queue"), *LEAD_ONLY, ("POST", "/team-queue/reassign")]:
        response = _request(client, method, url, token)
        if url in allowed:
            assert response.status_code == 200, (role, url)
        elif method == "POST" and "/team-queue" in allowed:
            assert response.status_code == 302, (role, url)
        else:
            assert response.status_code == 403, (role, url)


def test_anonymous_is_sent_to_the_login(client: FlaskClient, world) -> None:
    for url in ("/queue", "/team-queue", "/team-queue.csv", "/dashboard"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
