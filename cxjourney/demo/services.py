"""The demo company: Stadtwerke Lindenau, a municipal energy provider (fictional).

Seven stages, 36 touchpoints across every channel, designed loops (usage ↔ support,
billing → support → billing), five owner teams and one account per role. Later features
add their own demo data by appending a step to ``DEMO_STEPS``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..auth.models import Role, Team, User
from ..auth.services import create_team, create_user
from ..errors import Conflict
from ..extensions import db
from ..journey.document import import_journey
from ..journey.models import Stage

DEMO_DOMAIN = "stadtwerke-lindenau.example"
DEMO_PASSWORD = "cxjourney-demo"  # noqa: S105 - printed on purpose: demo data only
DEMO_TEAMS = ["Vertrieb", "Kundenservice", "Abrechnung", "Netz & Messwesen", "Online & Marketing"]


@dataclass(frozen=True)
class DemoAccount:
    email: str
    name: str
    role: Role
    team: str | None
    language: str | None = None


DEMO_ACCOUNTS = [
    DemoAccount(
        f"manager@{DEMO_DOMAIN}", "Thomas Berger", Role.TOUCHPOINT_MANAGER, "Kundenservice"
    ),
    DemoAccount(f"agent@{DEMO_DOMAIN}", "Leyla Yılmaz", Role.AGENT, "Kundenservice"),
    DemoAccount(f"lead@{DEMO_DOMAIN}", "Jens Hoffmann", Role.TEAM_LEAD, "Kundenservice"),
    DemoAccount(f"viewer@{DEMO_DOMAIN}", "Karl Weber", Role.VIEWER, None),
    DemoAccount(f"admin@{DEMO_DOMAIN}", "Sabine Krüger", Role.ADMIN, None),
    DemoAccount(
        f"digital.manager@{DEMO_DOMAIN}",
        "Anna Schmidt",
        Role.TOUCHPOINT_MANAGER,
        "Online & Marketing",
        "en",
    ),
]


@dataclass
class DemoOptions:
    """What the demo steps share. Features that add generated records (customers, events,
    complaints) add their seed and sizes here and as options of ``cxjourney demo``."""

    at: datetime
    seed: int = 2026  # every generated record is drawn from random.Random(seed)
    customers: int = 2000
    complaints: int = 1500


@dataclass
class DemoResult:
    accounts: list[DemoAccount] = field(default_factory=list)
    password: str = DEMO_PASSWORD
    counts: dict[str, int] = field(default_factory=dict)


def database_is_empty(session: Session) -> bool:
    """True when no account and no journey exist yet."""
    return not any(
        session.scalar(select(func.count()).select_from(model)) for model in (User, Team, Stage)
    )


def wipe_database(session: Session) -> None:
    """Delete every row of every table (children first). Only the demo loader calls this."""
    for table in reversed(db.metadata.sorted_tables):
        session.execute(delete(table))
    session.flush()


def _load_accounts(session: Session, options: DemoOptions, result: DemoResult) -> None:
    for name in DEMO_TEAMS:
        create_team(session, name=name, actor=None, at=options.at)
    for account in DEMO_ACCOUNTS:
        create_user(
            session,
            email=account.email,
            name=account.name,
            role=account.role,
            password=DEMO_PASSWORD,
            team=account.team,
            language=account.language,
            actor=None,
            at=options.at,
        )
        result.accounts.append(account)
    result.counts["teams"] = len(DEMO_TEAMS)
    result.counts["users"] = len(DEMO_ACCOUNTS)


def demo_journey_document() -> dict[str, object]:
    text = resources.files(__package__).joinpath("journey.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def _load_journey(session: Session, options: DemoOptions, result: DemoResult) -> None:
    summary = import_journey(session, demo_journey_document(), actor=None, at=options.at)
    result.counts["stages"] = summary.stages_created
    result.counts["touchpoints"] = summary.touchpoints_created
    result.counts["transitions"] = summary.transitions_added


def _load_complaints(session: Session, options: DemoOptions, result: DemoResult) -> None:
    # Imported here: the step's module imports this one (accounts, password, options).
    from .complaints import load_complaint_demo

    load_complaint_demo(session, options, result)


def _load_journeys(session: Session, options: DemoOptions, result: DemoResult) -> None:
    from .journeys import load_journey_demo

    load_journey_demo(session, options, result)


DEMO_STEPS: list[Callable[[Session, DemoOptions, DemoResult], None]] = [
    _load_accounts,
    _load_journey,
    _load_complaints,
    _load_journeys,
]


def load_demo(session: Session, options: DemoOptions, *, reset: bool = False) -> DemoResult:
    """Load the demo company. Raises Conflict on a non-empty database unless ``reset``."""
    if not database_is_empty(session):
        if not reset:
            raise Conflict("The database is not empty; use --reset to replace everything.")
        wipe_database(session)
    result = DemoResult()
    for step in DEMO_STEPS:
        step(session, options, result)
    session.flush()
    return result
