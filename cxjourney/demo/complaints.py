"""Demo complaints: customers, the complaint set-up and 18 months of worked complaints.

Adds to the demo company: churn reasons, complaint categories, SLA policies (one per severity,
business hours, and a stricter one for the hotline), the triage team "Beschwerdemanagement",
a few agents per team, routing rules, ``options.customers`` customers acquired over the last
five years (some churned) and ``options.complaints`` complaints received over the last 18
months, concentrated at four touchpoints (first invoice, annual bill, hotline, meter
installation: about 60 % together).

Every complaint is logged and worked through the real services with explicit times, so its
timeline, SLA dues, first response and resolution agree: replies, internal notes, waits on
the customer, resolutions with codes and compensation, reopens, closing. Clocks that ran out
are marked the way the SLA sweep marks them: ``*_breached_at`` at the first five-minute tick
after the due time, an ``escalated`` timeline event with ``{"clock": ...}`` and
``escalated_at``; some escalated complaints are then handed to Beschwerdemanagement.

Everything is drawn from ``random.Random(options.seed)``: the same seed on an empty database
gives the same data. Nothing happens after ``options.at``: a timeline stops where it would
run into the future, so recent complaints are still open. The step commits every
``BATCH`` complaints (and customers) to keep transactions short.
"""

from __future__ import annotations

import random
import unicodedata
from bisect import bisect_left, bisect_right
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy.orm import Session

from ..auth.models import Role, Team, User
from ..auth.services import (
    create_team,
    create_user,
    find_team_by_name,
    find_user_by_email,
    list_teams,
)
from ..complaints import lifecycle
from ..complaints import services as complaint_services
from ..complaints.categories import create_category, find_category, list_categories
from ..complaints.models import (
    AssignmentStrategy,
    Complaint,
    ComplaintStatus,
    EventKind,
    ResolutionCode,
    Severity,
    SlaPolicy,
)
from ..complaints.routing import OPEN_STATUSES, RuleInput, save_rule, team_agents
from ..complaints.sla import business_calendar, policy_of
from ..complaints.sla_clock import BusinessCalendar
from ..customers.models import Customer
from ..customers.services import CustomerInput, create_churn_reason, create_customer
from ..journey.models import Channel, Touchpoint
from ..journey.services import find_touchpoint_by_key, list_touchpoints
from .services import DEMO_DOMAIN, DEMO_PASSWORD, DemoOptions, DemoResult

T = TypeVar("T")

BATCH = 50  # complaints per commit; customers commit every 10 batches
TRIAGE_TEAM = "Beschwerdemanagement"
HISTORY_DAYS = 548  # 18 months of complaints
TENURE_DAYS = 5 * 365  # customers acquired over the last five years
SWEEP_MINUTES = 5  # the SLA sweep's cron interval: breaches are marked at the next tick
AUTO_CLOSE = timedelta(days=14)  # resolved complaints are closed two weeks later

# --- the set-up --------------------------------------------------------------------------

CHURN_REASONS = {
    "price": ("Preis", 35),
    "move": ("Umzug", 25),
    "service": ("Unzufrieden mit dem Service", 18),
    "competitor": ("Wechsel zum Wettbewerber", 16),
    "other": ("Sonstiges", 6),
}
CATEGORIES = {
    "billing": "Rechnung & Abschlag",
    "meter-reading": "Zählerstand & Ablesung",
    "installation-appointment": "Installationstermin",
    "outage": "Versorgungsunterbrechung",
    "contract": "Vertrag & Tarif",
    "service-quality": "Servicequalität",
    "website-app": "Website & App",
    "other": "Sonstiges",
}
BUSINESS_DAY = 10 * 60  # minutes: 08:00–18:00
# severity → (first response, next update, resolution), minutes of business time
SLA_TARGETS = {
    Severity.CRITICAL: (2 * 60, 4 * 60, 1 * BUSINESS_DAY),
    Severity.HIGH: (4 * 60, 8 * 60, 3 * BUSINESS_DAY),
    Severity.MEDIUM: (8 * 60, 16 * 60, 5 * BUSINESS_DAY),
    Severity.LOW: (16 * 60, 24 * 60, 10 * BUSINESS_DAY),
}
SLA_NAMES = {Severity.CRITICAL: "Kritisch", Severity.HIGH: "Hoch", Severity.MEDIUM: "Mittel"}
SLA_NAMES[Severity.LOW] = "Niedrig"
# The hotline promises a call back the same day on the usual (medium) complaints.
HOTLINE_SLA = (
    "Hotline: Rückruf am selben Tag",
    Severity.MEDIUM,
    (2 * 60, 8 * 60, 3 * BUSINESS_DAY),
)


def _ascii(text: str) -> str:
    """A name as it would appear in an email address (ä → ae, ı → i, é → e, spaces → -)."""
    text = text.lower()
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("ı", "i")):
        text = text.replace(umlaut, plain)
    decomposed = unicodedata.normalize("NFKD", text).replace(" ", "-").replace("&", "-")
    return "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c in ".-"))


@dataclass(frozen=True)
class DemoAgent:
    email: str
    name: str
    team: str
    role: Role = Role.AGENT


def _agent(name: str, team: str, role: Role = Role.AGENT) -> DemoAgent:
    first, last = name.split(" ", 1)
    return DemoAgent(f"{_ascii(first)}.{_ascii(last)}@{DEMO_DOMAIN}", name, team, role)


# Extra accounts (same password as the demo logins; not printed).
DEMO_AGENTS = [
    _agent("Mehmet Demir", "Kundenservice"),
    _agent("Julia Wagner", "Kundenservice"),
    _agent("Stefan Richter", "Abrechnung"),
    _agent("Katharina Vogel", "Abrechnung"),
    _agent("Olga Nowak", "Abrechnung"),
    _agent("Miriam Schubert", TRIAGE_TEAM),
    _agent("Tobias Krause", TRIAGE_TEAM),
    _agent("Claudia Lorenz", TRIAGE_TEAM, Role.TEAM_LEAD),
    _agent("Andreas Fuchs", "Netz & Messwesen"),
    _agent("Nina Schröder", "Netz & Messwesen"),
    _agent("Markus Engel", "Vertrieb"),
    _agent("Lea Hartmann", "Online & Marketing"),
]

# --- what complaints are about -----------------------------------------------------------


def _table(spec: str) -> dict[str, int]:
    """``"billing 75, contract 8"`` → ``{"billing": 75, "contract": 8}``: short weight tables."""
    return {key: int(weight) for key, weight in (item.split() for item in spec.split(","))}


# About 60 % of all complaints at four touchpoints: the hotspots the reports should find.
PLANTED = _table("first-invoice 18, annual-bill 17, hotline 14, meter-installation 11")
TOUCHPOINT_WEIGHTS = PLANTED | _table(
    "meter-reading 5, payment-reminder 4, price-change 4, advance-payment 3, outage-notice 3, "
    "app 3, website 2, supplier-switch 2, email-support 2, final-invoice 2, chat 1, "
    "customer-center 1, contract-confirmation 1, direct-debit 1, online-signup 1, "
    "portal-registration 1, move-out 1, cancellation 1, contract-renewal 1, social-care 1"
)
# Complaints here come from customers who signed up shortly before ...
NEW_CUSTOMER_TOUCHPOINTS = frozenset(
    [
        "first-invoice",
        "meter-installation",
        "supplier-switch",
        "contract-confirmation",
        "direct-debit",
        "online-signup",
        "portal-registration",
    ]
)
# ... and here from customers who are leaving or have just left.
LEAVING_TOUCHPOINTS = frozenset({"cancellation", "final-invoice", "move-out"})

_BILLING = _table("billing 75, meter-reading 10, contract 8, service-quality 5, other 2")
_ONLINE = _table("website-app 75, contract 10, other 15")
_CONTRACT = _table("contract 65, billing 15, service-quality 10, other 10")
_SERVICE = _table("service-quality 60, billing 20, other 20")
CATEGORY_WEIGHTS: dict[str, dict[str, int]] = {
    **dict.fromkeys(
        ["first-invoice", "advance-payment", "payment-reminder", "direct-debit", "final-invoice"],
        _BILLING,
    ),
    **dict.fromkeys(["app", "website", "online-signup", "portal-registration"], _ONLINE),
    **dict.fromkeys(["email-support", "chat", "customer-center", "social-care"], _SERVICE),
    "annual-bill": _table("billing 70, meter-reading 20, contract 5, service-quality 5"),
    "price-change": _table("billing 50, contract 45, other 5"),
    "hotline": _table(
        "service-quality 45, billing 20, contract 12, outage 8, meter-reading 5, other 10"
    ),
    "meter-installation": _table(
        "installation-appointment 75, service-quality 15, meter-reading 10"
    ),
    "meter-reading": _table("meter-reading 85, website-app 10, other 5"),
    "outage-notice": _table("outage 90, service-quality 10"),
    "move-out": _table("contract 50, billing 30, meter-reading 20"),
}  # every other touchpoint: _CONTRACT

# Letters about 15 %, faxes 3 %: offline channels are first-class.
CHANNEL_WEIGHTS = {
    Channel(key): weight
    for key, weight in _table(
        "phone 28, email 24, letter 17, web 9, chat 5, in_person 5, app 4, fax 3, "
        "social_media 3, sms 2"
    ).items()
}
HOTLINE_CHANNELS = {Channel.PHONE: 90, Channel.EMAIL: 5, Channel.LETTER: 3, Channel.FAX: 2}
SEVERITY_WEIGHTS = {Severity.LOW: 25, Severity.MEDIUM: 50, Severity.HIGH: 19, Severity.CRITICAL: 6}
OUTAGE_SEVERITY = {Severity.LOW: 5, Severity.MEDIUM: 30, Severity.HIGH: 40, Severity.CRITICAL: 25}
# The channel a reply goes out through (web forms and apps are answered by email).
REPLY_CHANNEL = {channel: channel for channel in Channel} | {
    Channel.FAX: Channel.LETTER,
    Channel.WEB: Channel.EMAIL,
    Channel.APP: Channel.EMAIL,
    Channel.IN_PERSON: Channel.PHONE,
    Channel.SMS: Channel.PHONE,
}
# Logged by the agent who took the call, opened the post or read the mailbox; web form, app
# and SMS complaints arrive through the integration (no actor).
AGENT_CHANNELS = frozenset(Channel) - {Channel.WEB, Channel.APP, Channel.SMS}
FIRST_CONTACT_CHANNELS = frozenset({Channel.PHONE, Channel.CHAT, Channel.IN_PERSON})

SUBJECTS: dict[str, list[str]] = {
    "billing": [
        "Rechnung deutlich zu hoch",
        "Abschlag falsch berechnet",
        "Betrag doppelt abgebucht",
        "Gutschrift nicht verrechnet",
        "Rechnung nicht nachvollziehbar",
        "Falscher Tarif abgerechnet",
    ],
    "meter-reading": [
        "Zählerstand geschätzt statt abgelesen",
        "Falscher Zählerstand übernommen",
        "Ableser nicht erschienen",
        "Zählerstand lässt sich nicht melden",
    ],
    "installation-appointment": [
        "Monteur nicht erschienen",
        "Termin kurzfristig abgesagt",
        "Zählereinbau mehrfach verschoben",
        "Nach Zählerwechsel fällt die Sicherung",
    ],
    "outage": [
        "Stromausfall ohne Vorwarnung",
        "Keine Information zur Störung",
        "Gasversorgung unterbrochen",
        "Wiederholte Spannungsschwankungen",
    ],
    "contract": [
        "Kündigung nicht bestätigt",
        "Tarifwechsel nicht umgesetzt",
        "Preiserhöhung nicht rechtzeitig angekündigt",
        "Umzug falsch erfasst",
        "Neukundenbonus nicht ausgezahlt",
    ],
    "service-quality": [
        "Hotline nicht erreichbar",
        "Unfreundliche Beratung",
        "Keine Antwort auf meine Nachricht",
        "Zugesagter Rückruf nicht erfolgt",
        "Widersprüchliche Auskünfte",
    ],
    "website-app": [
        "Anmeldung im Kundenportal schlägt fehl",
        "App stürzt beim Zählerstand ab",
        "Rechnung im Portal nicht abrufbar",
        "Passwort zurücksetzen funktioniert nicht",
    ],
    "other": [
        "Werbung trotz Widerspruch",
        "Auskunftsersuchen unbeantwortet",
        "Post an falsche Adresse",
        "Anliegen ohne Rückmeldung",
    ],
}
DESCRIPTIONS: dict[str, list[str]] = {
    "billing": [
        "Meine Rechnung vom {month} weist {amount} € aus, fast doppelt so viel wie im Vorjahr. "
        "Mein Verbrauch hat sich nicht verändert.",
        "Der Abschlag wurde am {date} zweimal abgebucht ({amount} €). Bitte erstatten Sie den "
        "doppelt abgebuchten Betrag.",
        "Die zugesagte Gutschrift über {amount} € fehlt auf der Rechnung.",
        "Abgerechnet wurde der Grundversorgungstarif statt meines Vertragstarifs.",
    ],
    "meter-reading": [
        "Mein Verbrauch wurde geschätzt, obwohl ich am {date} den Zählerstand {reading} "
        "gemeldet habe.",
        "Auf der Abrechnung steht der Zählerstand {reading}; das passt nicht zu meinem Zähler.",
        "Der angekündigte Ableser ist am {date} nicht gekommen, ich hatte mir frei genommen.",
    ],
    "installation-appointment": [
        "Der Termin für den Zählerwechsel am {date} wurde nicht eingehalten, niemand hat "
        "Bescheid gegeben.",
        "Der Monteur hat den Termin am Vorabend abgesagt, das ist schon das zweite Mal.",
        "Seit dem Einbau des neuen Zählers am {date} fällt regelmäßig die Sicherung.",
    ],
    "outage": [
        "Am {date} hatten wir {hours} Stunden keinen Strom. Die Störungsnummer war besetzt.",
        "Die Unterbrechung wegen Bauarbeiten am {date} war nicht angekündigt; unser Betrieb "
        "stand {hours} Stunden still.",
        "Seit {month} flackert abends immer wieder das Licht, mehrere Geräte sind ausgefallen.",
    ],
    "contract": [
        "Ich habe am {date} gekündigt und bis heute keine Bestätigung erhalten.",
        "Mein Wechsel in den Ökostromtarif zum {month} wurde nicht umgesetzt.",
        "Die Preiserhöhung kam erst nach dem Stichtag bei mir an. Ich widerspreche.",
        "Der Neukundenbonus über {amount} € wurde nicht verrechnet.",
    ],
    "service-quality": [
        "Ich habe mehrfach versucht, Sie zu erreichen, und hing jedes Mal über 30 Minuten in "
        "der Warteschleife.",
        "Am {date} wurde mir ein Rückruf zugesagt, der nie kam.",
        "Ich habe von drei Mitarbeitenden drei verschiedene Auskünfte bekommen.",
        "Auf meine E-Mail vom {date} habe ich bis heute keine Antwort.",
    ],
    "website-app": [
        "Seit dem Update vom {month} kann ich mich nicht mehr im Portal anmelden.",
        "Beim Melden des Zählerstands stürzt die App jedes Mal ab.",
        "Die Rechnung vom {month} lässt sich im Portal nicht als PDF öffnen.",
    ],
    "other": [
        "Ich habe der Werbung am {date} widersprochen und bekomme trotzdem weiter Post.",
        "Mein Auskunftsersuchen vom {date} ist unbeantwortet.",
        "Ihre Schreiben gehen seit {month} an meine alte Adresse.",
    ],
}
DESIRED_OUTCOMES = [
    "Korrektur der Rechnung",
    "Erstattung des Betrags",
    "Einen verbindlichen neuen Termin",
    "Einen Rückruf",
    "Eine schriftliche Bestätigung",
    "Eine Entschuldigung",
]
ACKNOWLEDGEMENTS = [
    "Vielen Dank für Ihre Nachricht. Wir prüfen Ihr Anliegen und melden uns zeitnah.",
    "Guten Tag, wir haben Ihre Beschwerde erhalten und kümmern uns darum. Ihr Vorgang: {ref}.",
    "Danke für Ihren Anruf. Wie besprochen klären wir das mit der Fachabteilung.",
    "Wir bedauern den Ärger. Ihr Anliegen liegt jetzt bei der zuständigen Fachabteilung.",
]
UPDATES = [
    "Kurzer Zwischenstand: Die Prüfung läuft noch, wir warten auf die Fachabteilung.",
    "Wir sind weiter an Ihrem Anliegen dran und melden uns, sobald die Klärung abgeschlossen ist.",
    "Zwischenstand: Die Unterlagen liegen vor, die Korrektur ist in Arbeit.",
]
NOTES = [
    "Rücksprache mit der Fachabteilung gehalten, Vorgang liegt dort zur Prüfung.",
    "Verbrauchshistorie geprüft: auffälliger Sprung im letzten Abrechnungsjahr.",
    "Kunde telefonisch nicht erreicht, Nachricht auf der Mailbox hinterlassen.",
    "Technik um Stellungnahme gebeten.",
    "Zweiter Kontakt des Kunden zum selben Thema.",
    "Kundin wünscht Antwort ausschließlich schriftlich.",
]
WAITING_FOR = [
    "ein Foto des Zählers",
    "den Kontoauszug der Abbuchung",
    "die Zählernummer",
    "einen Terminvorschlag",
    "eine Kopie des Kündigungsschreibens",
]
RESOLUTION_WEIGHTS: dict[str, dict[ResolutionCode, int]] = {
    category: {ResolutionCode(key): weight for key, weight in _table(spec).items()}
    for category, spec in {
        "billing": "credit 30, refund 20, explanation 35, apology 5, no_action 5, other 5",
        "meter-reading": "explanation 45, credit 20, apology 15, no_action 15, other 5",
        "installation-appointment": "apology 50, repair 25, replacement 10, credit 15",
        "outage": "apology 45, explanation 30, credit 20, repair 5",
        "contract": "explanation 45, apology 20, credit 15, no_action 15, other 5",
        "service-quality": "apology 60, explanation 25, credit 10, other 5",
        "website-app": "repair 50, explanation 30, apology 15, other 5",
        "other": "explanation 40, apology 30, no_action 20, other 10",
    }.items()
}
RESOLUTIONS = {
    ResolutionCode.REFUND: "Der zu viel gezahlte Betrag von {comp} € wird erstattet.",
    ResolutionCode.CREDIT: "Gutschrift über {comp} € auf der nächsten Rechnung.",
    ResolutionCode.EXPLANATION: "Berechnung bzw. Ablauf ausführlich erläutert; kein Fehler.",
    ResolutionCode.APOLOGY: "Für den Ablauf entschuldigt und das Team informiert.",
    ResolutionCode.REPAIR: "Fehler behoben, die Technik hat die Anlage geprüft.",
    ResolutionCode.REPLACEMENT: "Zähler ausgetauscht.",
    ResolutionCode.NO_ACTION: "Nach Prüfung kein Fehler; der Kunde wurde informiert.",
    ResolutionCode.OTHER: "Anderweitig geklärt, siehe Notizen.",
}
GOODWILL = (Decimal("15.00"), Decimal("20.00"), Decimal("25.00"), Decimal("30.00"))

# --- customers ---------------------------------------------------------------------------

FIRST_NAMES = [
    "Anna", "Lena", "Marie", "Sophie", "Laura", "Julia", "Sarah", "Katrin", "Sabine",
    "Petra", "Monika", "Ursula", "Heike", "Claudia", "Andrea", "Birgit", "Jana", "Nadine",
    "Ayşe", "Elif", "Agnieszka", "Svetlana", "Maria", "Emma", "Hannah", "Mia",
    "Thomas", "Michael", "Andreas", "Stefan", "Peter", "Frank", "Jürgen", "Uwe", "Klaus",
    "Wolfgang", "Markus", "Christian", "Daniel", "Tobias", "Jan", "Lukas", "Felix", "Jonas",
    "Paul", "Maximilian", "Mehmet", "Ali", "Piotr", "Dmitri", "Giuseppe", "Hans", "Dieter",
]  # fmt: skip
LAST_NAMES = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
    "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann",
    "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier", "Lehmann",
    "Köhler", "Herrmann", "König", "Walter", "Kaiser", "Fuchs", "Peters", "Scholz",
    "Möller", "Weiß", "Jung", "Hahn", "Vogel", "Friedrich", "Keller", "Günther", "Berger",
    "Winkler", "Roth", "Beck", "Lorenz", "Baumann", "Franke", "Albrecht", "Simon", "Böhm",
    "Yılmaz", "Kaya", "Demir", "Öztürk", "Nowak", "Kowalski", "Popescu", "Nguyen", "Rossi",
]  # fmt: skip
TRADES = [
    "Bäckerei", "Autohaus", "Physiotherapie", "Friseursalon", "Zahnarztpraxis", "Gaststätte",
    "Tischlerei", "Blumenladen", "Kanzlei", "Metzgerei", "Fahrradladen", "Druckerei",
]  # fmt: skip
HOUSING = [
    "Wohnungsbaugenossenschaft", "Hausverwaltung", "Wohnungsgesellschaft",
    "Immobilienverwaltung", "Eigentümergemeinschaft",
]  # fmt: skip
STREETS = [
    "Lindenauer Markt", "Am Stadtpark", "Karl-Heine-Straße", "Merseburger Straße",
    "Lützner Straße", "Georg-Schwarz-Straße", "Saalfelder Straße",
]  # fmt: skip
MAIL_DOMAINS = ["example.com", "example.org", "example.net"]
SEGMENTS = {"privat": 75, "gewerbe": 18, "wohnungswirtschaft": 7}


MONTHS = [
    "Januar", "Februar", "März", "April", "Mai", "Juni",
    "Juli", "August", "September", "Oktober", "November", "Dezember",
]  # fmt: skip


def _weighted(rng: random.Random, weights: dict[T, int]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _minutes(value: float) -> timedelta:
    return timedelta(minutes=value)


def _hours(value: float) -> float:
    """Seconds of ``value`` hours, for the business clock."""
    return value * 3600


def _tick(due: datetime) -> datetime:
    """The first run of the SLA sweep (every five minutes, on the clock) after ``due``."""
    floored = due.replace(second=0, microsecond=0, minute=due.minute - due.minute % SWEEP_MINUTES)
    return floored + timedelta(minutes=SWEEP_MINUTES)


# --- the set-up --------------------------------------------------------------------------


def _load_setup(session: Session, at: datetime) -> dict[str, int]:
    for key, (name, _weight) in CHURN_REASONS.items():
        create_churn_reason(session, key=key, name=name, actor=None, at=at)
    for key, name in CATEGORIES.items():
        create_category(session, key=key, name=name, actor=None, at=at)
    hotline = find_touchpoint_by_key(session, "hotline")
    policies: list[tuple[str, Severity, Touchpoint | None, tuple[int, int, int]]] = [
        (f"{SLA_NAMES[severity]} (Standard)", severity, None, targets)
        for severity, targets in SLA_TARGETS.items()
    ]
    policies.append((*HOTLINE_SLA[:2], hotline, HOTLINE_SLA[2]))
    for name, severity, touchpoint, (first, update, resolution) in policies:
        # There is no service for SLA policies yet: the row as the admin page will write it.
        session.add(
            SlaPolicy(
                name=name,
                severity=severity,
                touchpoint=touchpoint,
                first_response_minutes=first,
                next_update_minutes=update,
                resolution_minutes=resolution,
                business_hours=True,
                warning_percent=80,
                active=True,
                created_at=at,
                updated_at=at,
            )
        )
    create_team(session, name=TRIAGE_TEAM, actor=None, at=at)
    for agent in DEMO_AGENTS:
        create_user(
            session,
            email=agent.email,
            name=agent.name,
            role=agent.role,
            password=DEMO_PASSWORD,
            team=agent.team,
            actor=None,
            at=at,
        )
    session.flush()
    return {
        "churn reasons": len(CHURN_REASONS),
        "categories": len(CATEGORIES),
        "SLA policies": len(policies),
        "routing rules": _load_rules(session, at),
    }


def _load_rules(session: Session, at: datetime) -> int:
    def team(name: str) -> Team | None:
        return find_team_by_name(session, name)

    billing = find_category(session, "billing")
    hotline = find_touchpoint_by_key(session, "hotline")
    installation = find_touchpoint_by_key(session, "meter-installation")
    annual_bill = find_touchpoint_by_key(session, "annual-bill")
    rules = [
        RuleInput(
            "Kritisch → Beschwerdemanagement",
            10,
            team(TRIAGE_TEAM),
            min_severity=Severity.CRITICAL,
            strategy=AssignmentStrategy.LEAST_LOADED,
        ),
        RuleInput(
            "Wohnungswirtschaft → Vertrieb (Key Account)",
            15,
            team("Vertrieb"),
            segment="wohnungswirtschaft",
        ),
        RuleInput(
            "Rechnungsbriefe → Abrechnung",
            20,
            team("Abrechnung"),
            category=billing,
            channel=Channel.LETTER,
            strategy=AssignmentStrategy.ROUND_ROBIN,
        ),
        RuleInput(
            "Rechnungsfaxe → Abrechnung",
            21,
            team("Abrechnung"),
            category=billing,
            channel=Channel.FAX,
            strategy=AssignmentStrategy.ROUND_ROBIN,
        ),
        RuleInput(
            "Hotline → Kundenservice",
            30,
            team("Kundenservice"),
            touchpoint=hotline,
            strategy=AssignmentStrategy.ROUND_ROBIN,
        ),
        RuleInput(
            "Abrechnungsphase → Abrechnung",
            40,
            team("Abrechnung"),
            stage_id=annual_bill.stage_id if annual_bill else None,
            strategy=AssignmentStrategy.LEAST_LOADED,
        ),
        RuleInput(
            "Zählereinbau → Netz & Messwesen",
            50,
            team("Netz & Messwesen"),
            touchpoint=installation,
            strategy=AssignmentStrategy.ROUND_ROBIN,
        ),
    ]
    for rule in rules:
        save_rule(session, None, rule, actor=None, at=at)
    return len(rules)


# --- customers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _CustomerFacts:
    """What the complaint generator needs of a customer. Kept outside the session: a batch
    commit expires every loaded object, and reloading 2,000 customers would cost 2,000
    queries per batch."""

    id: int
    acquired_at: datetime
    churned_at: datetime | None
    weight: int  # those who later leave over price or service complained more


def _customer_input(rng: random.Random, number: int, acquired_at: datetime) -> CustomerInput:
    segment = _weighted(rng, SEGMENTS)
    last = rng.choice(LAST_NAMES)
    if segment == "privat":
        first = rng.choice(FIRST_NAMES)
        name = f"{first} {last}"
        suffix = str(rng.randint(1, 99)) if rng.random() < 0.3 else ""
        email = f"{_ascii(first)}.{_ascii(last)}{suffix}@{rng.choice(MAIL_DOMAINS)}"
    elif segment == "gewerbe":
        name = f"{rng.choice(TRADES)} {last}"
        email = f"kontakt@{_ascii(name)}.example"
    else:
        name = f"{rng.choice(HOUSING)} {rng.choice(STREETS)}"
        email = f"verwaltung@{_ascii(name)}.example"
    if rng.random() < 0.5:
        phone = f"0341 {rng.randint(2000000, 9999999)}"
    elif rng.random() < 0.8:
        phone = f"+49 15{rng.randint(1, 9)} {rng.randint(1000000, 99999999)}"
    else:
        phone = None
    return CustomerInput(
        external_ref=f"K-{100000 + number}",
        name=name,
        acquired_at=acquired_at,
        email=email if rng.random() < 0.88 else None,
        phone=phone,
        segment=segment,
        contact_consent=rng.random() < 0.6,
    )


def _load_customers(
    session: Session, rng: random.Random, at: datetime, count: int
) -> list[_CustomerFacts]:
    start = at - timedelta(days=TENURE_DAYS)
    span = (TENURE_DAYS - 1) * 86400
    acquired = sorted(
        (start + timedelta(seconds=int(rng.random() * span))).replace(second=0)
        for _ in range(count)
    )
    reasons = {key: weight for key, (_name, weight) in CHURN_REASONS.items()}
    facts: list[_CustomerFacts] = []
    refs: list[str] = []
    for number, acquired_at in enumerate(acquired, start=1):
        data = _customer_input(rng, number, acquired_at)
        churned_at, reason = None, None
        if acquired_at < at - timedelta(days=120) and rng.random() < 0.2:
            earliest = acquired_at + timedelta(days=60)
            churned_at = earliest + (at - earliest) * rng.random()
            reason = _weighted(rng, reasons)
        referred_by = rng.choice(refs) if refs and rng.random() < 0.08 else None
        data = replace(data, churned_at=churned_at, churn_reason=reason, referred_by=referred_by)
        customer = create_customer(session, data, actor=None, at=at)
        weight = 3 if reason in ("price", "service", "competitor") else 1
        facts.append(_CustomerFacts(customer.id, acquired_at, churned_at, weight))
        refs.append(data.external_ref)
        if number % (BATCH * 10) == 0:
            session.commit()
    session.commit()
    return facts


class _CustomerPool:
    """Picks who complains: new customers at onboarding touchpoints, leaving ones at the
    exit, anyone active otherwise (customers who later churn three times as often)."""

    def __init__(self, facts: list[_CustomerFacts]) -> None:
        self.by_acquired = sorted(facts, key=lambda f: (f.acquired_at, f.id))
        self.acquired_keys = [f.acquired_at for f in self.by_acquired]
        self.churned = sorted(
            (f for f in facts if f.churned_at is not None),
            key=lambda f: (f.churned_at, f.id),
        )
        self.churned_keys = [f.churned_at for f in self.churned]
        self.cum_weights = list(accumulate(f.weight for f in self.by_acquired))

    def pick(self, rng: random.Random, touchpoint: str, received: datetime) -> _CustomerFacts:
        if touchpoint in NEW_CUSTOMER_TOUCHPOINTS:
            low = bisect_left(self.acquired_keys, received - timedelta(days=120))
            high = bisect_left(self.acquired_keys, received)
            if high > low:
                return self.by_acquired[rng.randrange(low, high)]
        if touchpoint in LEAVING_TOUCHPOINTS:
            low = bisect_left(self.churned_keys, received - timedelta(days=90))
            high = bisect_right(self.churned_keys, received + timedelta(days=30))
            candidates = [f for f in self.churned[low:high] if f.acquired_at < received]
            if candidates:
                return rng.choice(candidates)
        for _attempt in range(40):
            facts = rng.choices(self.by_acquired, cum_weights=self.cum_weights)[0]
            if facts.acquired_at < received and (
                facts.churned_at is None or facts.churned_at > received - timedelta(days=30)
            ):
                return facts
        return self.by_acquired[0]


# --- complaints --------------------------------------------------------------------------


class _Stop(Exception):
    """The next step of a timeline would lie after ``options.at``: it stops here."""


@dataclass
class _Context:
    session: Session
    rng: random.Random
    at: datetime  # nothing happens later than this
    settings: complaint_services.Settings
    clock: BusinessCalendar
    zone: ZoneInfo
    triage_team: Team
    triage_lead: User
    agents: dict[int, list[User]]  # team id → active agents
    front_line: list[User]  # Kundenservice: take calls, open the post, read the mailbox
    social_media: list[User]  # Online & Marketing: answer on social media


@dataclass(frozen=True)
class _Plan:
    """One complaint as it arrives: drawn first for all complaints, then logged in time
    order, so that ids and references grow with the logging time."""

    touchpoint: str
    channel: Channel
    received_at: datetime
    logged_at: datetime
    customer_id: int
    category: str
    severity: Severity
    subject: str
    description: str
    desired_outcome: str


def _season(touchpoint: str, month: int) -> float:
    if touchpoint == "annual-bill":  # the annual bills go out in January and February
        return {1: 3.0, 2: 3.0, 3: 2.5, 4: 1.5}.get(month, 0.4)
    if touchpoint == "price-change":
        return 2.0 if month in (11, 12, 1) else 0.7
    if touchpoint == "outage-notice":  # winter storms and summer thunderstorms
        return 1.8 if month in (1, 2, 7, 8) else 0.8
    return 1.0


def _receipt(ctx: _Context, touchpoint: str, channel: Channel) -> tuple[datetime, datetime]:
    """When the complaint arrived and when it was logged (offline channels wait a while)."""
    rng, zone, clock = ctx.rng, ctx.zone, ctx.clock
    start = ctx.at - timedelta(days=HISTORY_DAYS)
    while True:
        offset = rng.random() * HISTORY_DAYS
        day = (start + timedelta(days=offset)).astimezone(zone).date()
        # Slightly more complaints lately, and seasons at a few touchpoints.
        weight = _season(touchpoint, day.month) * (0.8 + 0.4 * offset / HISTORY_DAYS)
        if rng.random() * 3.6 > weight:
            continue
        if channel in (Channel.PHONE, Channel.CHAT):  # hotline: Monday to Saturday 8–20
            while day.weekday() == 6:
                day += timedelta(days=1)
            moment = time(rng.randint(8, 19), rng.randint(0, 59))
        elif channel in (Channel.LETTER, Channel.IN_PERSON, Channel.FAX):
            while not clock.is_working_day(day):
                day += timedelta(days=1)
            if channel is Channel.LETTER:  # the date stamp of the morning post
                moment = time(8, 30)
            elif channel is Channel.FAX:
                moment = time(rng.randint(7, 19), rng.randint(0, 59))
            else:
                moment = time(rng.randint(9, 17), rng.randint(0, 59))
        else:
            hour = rng.choices(range(24), weights=[1] * 7 + [4] * 15 + [2] * 2)[0]
            moment = time(hour, rng.randint(0, 59))
        received = datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)
        if channel in FIRST_CONTACT_CHANNELS:
            logged = received + _minutes(rng.uniform(3, 15))
        elif channel is Channel.LETTER:  # opened, scanned and logged by the post room
            logged = clock.add(received, _hours(rng.uniform(0.5, 6)))
        elif channel is Channel.FAX:
            logged = clock.add(received, _hours(rng.uniform(0.3, 4)))
        elif channel in (Channel.EMAIL, Channel.SOCIAL_MEDIA):
            logged = clock.add(received, _hours(rng.uniform(0.1, 3)))
        else:  # web form, app, SMS: logged by the integration at once
            logged = received + timedelta(seconds=rng.randint(1, 30))
        if logged <= ctx.at:
            return received, logged


def _texts(rng: random.Random, category: str, received: datetime, zone: ZoneInfo) -> list[str]:
    local = received.astimezone(zone)
    before = local - timedelta(days=rng.randint(3, 40))
    values = {
        "month": f"{MONTHS[before.month - 1]} {before.year}",
        "date": before.strftime("%d.%m.%Y"),
        "amount": f"{rng.randint(40, 900)},{rng.randint(0, 99):02d}",
        "reading": f"{rng.randint(1000, 99999)} kWh",
        "hours": str(rng.randint(2, 9)),
    }
    subject = rng.choice(SUBJECTS[category])
    description = rng.choice(DESCRIPTIONS[category]).format(**values)
    outcome = rng.choice(DESIRED_OUTCOMES) if rng.random() < 0.55 else ""
    return [subject, description, outcome]


def _plan(ctx: _Context, pool: _CustomerPool) -> _Plan:
    rng = ctx.rng
    touchpoint = _weighted(rng, TOUCHPOINT_WEIGHTS)
    channel = _weighted(rng, HOTLINE_CHANNELS if touchpoint == "hotline" else CHANNEL_WEIGHTS)
    received, logged = _receipt(ctx, touchpoint, channel)
    customer = pool.pick(rng, touchpoint, received)
    category = _weighted(rng, CATEGORY_WEIGHTS.get(touchpoint, _CONTRACT))
    severity = _weighted(rng, OUTAGE_SEVERITY if category == "outage" else SEVERITY_WEIGHTS)
    subject, description, outcome = _texts(rng, category, received, ctx.zone)
    return _Plan(
        touchpoint,
        channel,
        received,
        logged,
        customer.id,
        category,
        severity,
        subject,
        description,
        outcome,
    )


class _Timeline:
    """Works one complaint through the services, step by step, in time order.

    Before every step the SLA sweep is played: a clock whose due time has passed is marked
    breached at the sweep's next tick and escalated. A step after ``ctx.at`` stops it all.
    """

    def __init__(self, ctx: _Context, complaint: Complaint, logger: User | None) -> None:
        self.ctx = ctx
        self.complaint = complaint
        self.logger = logger
        self.owner = complaint.assignee
        self.now = complaint.created_at
        policy = policy_of(complaint)
        if policy is None:
            raise RuntimeError("the demo has an SLA policy for every severity")
        self.policy = policy

    # --- one step --------------------------------------------------------------------------

    def _step(self, when: datetime) -> datetime:
        when = max(when, self.now)
        if when > self.ctx.at:
            raise _Stop
        self.sweep(when)
        self.now = when
        return when

    def sweep(self, until: datetime) -> None:
        """Mark what the SLA sweep would have marked by ``until`` (clocks pause meanwhile)."""
        complaint = self.complaint
        if complaint.paused_since is not None:
            return
        running = {
            "first_response": complaint.first_response_due_at
            if complaint.first_response_at is None
            else None,
            "next_update": complaint.next_update_due_at
            if complaint.status in OPEN_STATUSES
            else None,
            "resolution": complaint.resolution_due_at if complaint.resolved_at is None else None,
        }
        missed = [
            (due, clock)
            for clock, due in running.items()
            if due is not None
            and due < until
            and getattr(complaint, f"{clock}_breached_at") is None
        ]
        for due, clock in sorted(missed):
            # The sweep sees a complaint only once it is logged (letters may arrive late).
            when = min(_tick(max(due, self.now)), until)
            setattr(complaint, f"{clock}_breached_at", when)
            complaint.escalated_at = complaint.escalated_at or when
            complaint.updated_at = max(complaint.updated_at, when)
            complaint_services.record_event(
                self.ctx.session,
                complaint,
                EventKind.ESCALATED,
                actor=None,
                at=when,
                data={"clock": clock, "due_at": due.isoformat()},
            )
            self.now = when
            if clock == "resolution":
                self._hand_over(when + timedelta(minutes=30), until)

    def _hand_over(self, when: datetime, until: datetime) -> None:
        """Serious complaints overdue elsewhere go to Beschwerdemanagement (most of them)."""
        ctx, complaint = self.ctx, self.complaint
        if (
            complaint.severity.rank < Severity.HIGH.rank
            or complaint.team_id == ctx.triage_team.id
            or when >= until
            or ctx.rng.random() < 0.4
        ):
            return
        agent = ctx.rng.choice(ctx.agents[ctx.triage_team.id])
        lifecycle.assign_complaint(
            ctx.session,
            complaint,
            team=ctx.triage_team,
            assignee=agent,
            actor=ctx.triage_lead,
            at=when,
        )
        self.owner = agent
        self.now = when

    def assign(self, when: datetime, agent: User, *, actor: User | None) -> None:
        at = self._step(when)
        lifecycle.assign_complaint(
            self.ctx.session,
            self.complaint,
            team=None,
            assignee=agent,
            actor=actor,
            at=at,
        )
        self.owner = agent

    def reply(self, when: datetime, text: str, actor: User | None = None) -> None:
        at = self._step(when)
        lifecycle.add_reply(
            self.ctx.session,
            self.complaint,
            text=text.format(ref=self.complaint.reference),
            channel=REPLY_CHANNEL[self.complaint.channel],
            actor=actor or self.owner,
            at=at,
            settings=self.ctx.settings,
        )

    def note(self, when: datetime, text: str) -> None:
        at = self._step(when)
        lifecycle.add_note(self.ctx.session, self.complaint, text=text, actor=self.owner, at=at)

    def move(
        self, when: datetime, to: ComplaintStatus, *, system: bool = False, **kwargs: Any
    ) -> None:
        at = self._step(when)
        lifecycle.transition_complaint(
            self.ctx.session,
            self.complaint,
            to=to,
            actor=None if system else self.owner,
            at=at,
            settings=self.ctx.settings,
            survey=False,  # history: no survey mails to demo customers (docs/feedback.md)
            **kwargs,
        )

    # --- the story -------------------------------------------------------------------------

    def _within(self, due: datetime | None, on_time: bool, target_minutes: int) -> datetime:
        """A moment before ``due`` (on time) or a while after it (late), in business time."""
        clock, rng = self.ctx.clock, self.ctx.rng
        if on_time and due is not None and due > self.now:
            return clock.add(self.now, rng.uniform(0.1, 0.95) * clock.between(self.now, due))
        late_from = max(due, self.now) if due is not None else self.now
        return clock.add(late_from, rng.uniform(0.05, 1.2) * target_minutes * 60)

    def _updates_until(self, end: datetime) -> None:
        """Keep the customer posted (usually in time for the next-update clock)."""
        clock, rng = self.ctx.clock, self.ctx.rng
        while True:
            due = self.complaint.next_update_due_at
            if due is None or due >= end:
                if rng.random() < 0.25:
                    self.note(self._between(end, 0.2, 0.9), rng.choice(NOTES))
                return
            if due > self.now and rng.random() < 0.97:
                when = clock.add(self.now, rng.uniform(0.5, 0.95) * clock.between(self.now, due))
            else:
                late_from = max(due, self.now)
                when = clock.add(
                    late_from, rng.uniform(0.1, 0.8) * self.policy.next_update_minutes * 60
                )
            if when >= end:
                return
            if rng.random() < 0.2:
                self.note(self._between(when, 0.2, 0.9), rng.choice(NOTES))
            self.reply(when, rng.choice(UPDATES))

    def _resolve(self, when: datetime, category: str) -> None:
        rng = self.ctx.rng
        code = _weighted(rng, RESOLUTION_WEIGHTS[category])
        compensation = None
        if code in (ResolutionCode.REFUND, ResolutionCode.CREDIT):
            compensation = Decimal(rng.randint(1000, 15000)) / 100
        elif code is ResolutionCode.APOLOGY and rng.random() < 0.2:
            compensation = rng.choice(GOODWILL)
        text = RESOLUTIONS[code].format(
            comp=f"{compensation:.2f}".replace(".", ",") if compensation else ""
        )
        self.reply(when, f"Ihr Anliegen ist geklärt. {text}")
        self.move(
            self.now + timedelta(minutes=rng.randint(1, 5)),
            ComplaintStatus.RESOLVED,
            resolution_code=code,
            resolution=text,
            compensation=compensation,
        )

    def _first_contact_resolution(self, category: str) -> bool:
        """Solved on the phone (chat, counter) by the agent who logged it, minutes later."""
        ctx, complaint, logger = self.ctx, self.complaint, self.logger
        if (
            logger is None
            or complaint.channel not in FIRST_CONTACT_CHANNELS
            or complaint.severity.rank > Severity.MEDIUM.rank
            or logger.team_id != complaint.team_id
            or ctx.rng.random() >= 0.5
        ):
            return False
        if self.owner is None or self.owner.id != logger.id:
            self.assign(self.now + timedelta(minutes=1), logger, actor=logger)
        self.reply(self.now + _minutes(ctx.rng.uniform(2, 10)), ctx.rng.choice(ACKNOWLEDGEMENTS))
        self._resolve(self.now + _minutes(ctx.rng.uniform(1, 5)), category)
        return True

    def _between(self, end: datetime, low: float, high: float) -> datetime:
        """A moment between now and ``end``, a share of the business time in between."""
        clock = self.ctx.clock
        return clock.add(self.now, self.ctx.rng.uniform(low, high) * clock.between(self.now, end))

    def _acknowledge(self) -> None:
        """The first response: usually within the clock, letters and faxes less often."""
        rng, complaint = self.ctx.rng, self.complaint
        offline = complaint.channel in (Channel.LETTER, Channel.FAX)
        on_time = rng.random() < (0.8 if offline else 0.9)
        reply_at = self._within(
            complaint.first_response_due_at, on_time, self.policy.first_response_minutes
        )
        if rng.random() < 0.3:
            self.move(self._between(reply_at, 0.05, 0.4), ComplaintStatus.IN_PROGRESS)
        if rng.random() < 0.3:
            self.note(self._between(reply_at, 0.1, 0.9), rng.choice(NOTES))
        self.reply(reply_at, rng.choice(ACKNOWLEDGEMENTS))

    def _wait_on_customer(self) -> None:
        rng, clock = self.ctx.rng, self.ctx.clock
        self.move(
            clock.add(self.now, _hours(rng.uniform(0.1, 2))),
            ComplaintStatus.WAITING_ON_CUSTOMER,
            note=f"Kunde um {rng.choice(WAITING_FOR)} gebeten.",
        )
        answered = self.now + timedelta(days=rng.uniform(1, 12))
        self.move(
            clock.add(answered, _hours(rng.uniform(0.2, 4))),
            ComplaintStatus.IN_PROGRESS,
            note="Antwort des Kunden eingegangen.",
        )

    def _work_to_resolution(self, category: str) -> None:
        rng, complaint = self.ctx.rng, self.complaint
        late = 0.12
        if complaint.channel in (Channel.LETTER, Channel.FAX):
            late += 0.08
        if complaint.severity is Severity.CRITICAL:
            late -= 0.04
        resolve_at = self._within(
            complaint.resolution_due_at, rng.random() >= late, self.policy.resolution_minutes
        )
        self._updates_until(resolve_at)
        self._resolve(resolve_at, category)

    def _reopen(self, category: str) -> None:
        """The customer is not satisfied with the resolution and gets in touch again."""
        rng, clock = self.ctx.rng, self.ctx.clock
        reopen_at = clock.add(self.now + timedelta(days=rng.uniform(2, 20)), 0)
        if reopen_at > self.now + AUTO_CLOSE:
            self.move(self.now + AUTO_CLOSE, ComplaintStatus.CLOSED, system=True)
        self.move(
            reopen_at,
            ComplaintStatus.IN_PROGRESS,
            note="Kunde ist mit der Lösung nicht einverstanden und meldet sich erneut.",
        )
        self.reply(clock.add(self.now, _hours(rng.uniform(0.5, 8))), rng.choice(ACKNOWLEDGEMENTS))
        resolve_at = clock.add(self.now, _hours(rng.uniform(4, 40)))
        self._updates_until(resolve_at)
        self._resolve(resolve_at, category)

    def work(self, category: str) -> None:
        """The complaint's life after logging; stops (``_Stop``) where it reaches ``ctx.at``."""
        ctx, rng, clock = self.ctx, self.ctx.rng, self.ctx.clock
        if not self._first_contact_resolution(category):
            if self.owner is None:  # someone of the team takes it from the queue
                agent = rng.choice(ctx.agents[self.complaint.team_id])
                self.assign(clock.add(self.now, _hours(rng.uniform(0.1, 1.5))), agent, actor=agent)
            self._acknowledge()
            if rng.random() < 0.18:
                self._wait_on_customer()
            if rng.random() < 0.01:  # stuck: nobody gets round to it
                return
            self._work_to_resolution(category)
        if rng.random() < 0.07:
            self._reopen(category)
        self.move(self.now + AUTO_CLOSE, ComplaintStatus.CLOSED, system=True)


def _context(session: Session, rng: random.Random, at: datetime) -> _Context:
    settings = complaint_services.Settings.from_config(current_app.config)
    triage = find_team_by_name(session, TRIAGE_TEAM)
    lead = find_user_by_email(session, DEMO_AGENTS[7].email)
    if triage is None or lead is None:
        raise RuntimeError("the set-up step creates the triage team and its lead first")
    teams = list_teams(session)
    agents = {team.id: team_agents(session, team) for team in teams}
    by_name = {team.name: team.id for team in teams}
    return _Context(
        session=session,
        rng=rng,
        at=at,
        settings=settings,
        clock=business_calendar(settings.calendar),
        zone=ZoneInfo(settings.timezone),
        triage_team=triage,
        triage_lead=lead,
        agents=agents,
        front_line=agents[by_name["Kundenservice"]],
        social_media=agents[by_name["Online & Marketing"]],
    )


def _log(ctx: _Context, plan: _Plan, references: dict[str, Any]) -> tuple[Complaint, User | None]:
    session, rng = ctx.session, ctx.rng
    if plan.channel is Channel.SOCIAL_MEDIA:
        logger: User | None = rng.choice(ctx.social_media)
    elif plan.channel in AGENT_CHANNELS:
        logger = rng.choice(ctx.front_line)
    else:
        logger = None
    complaint, _created = complaint_services.log_complaint(
        session,
        complaint_services.ComplaintInput(
            customer=session.get(Customer, plan.customer_id),
            touchpoint=references["touchpoints"][plan.touchpoint],
            channel=plan.channel,
            category=references["categories"][plan.category],
            severity=plan.severity,
            subject=plan.subject,
            description=plan.description,
            desired_outcome=plan.desired_outcome,
            received_at=plan.received_at,
        ),
        actor=logger,
        at=plan.logged_at,
        settings=ctx.settings,
    )
    return complaint, logger


def _load_complaints(ctx: _Context, pool: _CustomerPool, count: int) -> dict[str, int]:
    session = ctx.session
    plans = sorted(
        (_plan(ctx, pool) for _ in range(count)), key=lambda p: (p.logged_at, p.received_at)
    )
    references: dict[str, Any] = {}
    counts = {"open": 0, "escalated": 0}
    for number, plan in enumerate(plans, start=1):
        if number % BATCH == 1:  # reload after the commit (expired) in one query each
            references = {
                "touchpoints": {tp.key: tp for tp in list_touchpoints(session)},
                "categories": {c.key: c for c in list_categories(session)},
            }
        complaint, logger = _log(ctx, plan, references)
        timeline = _Timeline(ctx, complaint, logger)
        with suppress(_Stop):
            timeline.work(plan.category)
        timeline.sweep(ctx.at)
        session.flush()
        counts["open"] += complaint.status in OPEN_STATUSES
        counts["escalated"] += complaint.escalated_at is not None
        if number % BATCH == 0:
            session.commit()
    session.commit()
    return counts


def load_complaint_demo(session: Session, options: DemoOptions, result: DemoResult) -> None:
    """The demo step: set-up, staff, customers and complaints (see the module docstring).

    Commits in batches: on failure, start again with ``cxjourney demo --reset``.
    """
    rng = random.Random(options.seed)  # noqa: S311 - demo data, reproducible on purpose
    counts = _load_setup(session, options.at)
    result.counts["teams"] = result.counts.get("teams", 0) + 1
    result.counts["users"] = result.counts.get("users", 0) + len(DEMO_AGENTS)
    result.counts.update(counts)
    facts = _load_customers(session, rng, options.at, options.customers)
    result.counts["customers"] = len(facts)
    complaints = options.complaints if facts else 0
    ctx = _context(session, rng, options.at)
    summary = _load_complaints(ctx, _CustomerPool(facts), complaints)
    result.counts["complaints"] = complaints
    result.counts["of them open"] = summary["open"]
    result.counts["of them escalated"] = summary["escalated"]
