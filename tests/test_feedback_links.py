"""Public feedback links: admin pages with QR codes, the page customers see, abuse guards."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role
from cxjourney.complaints.models import Complaint
from cxjourney.customers.models import Customer
from cxjourney.feedback import links
from cxjourney.feedback.models import FeedbackLink, FeedbackResponse, FeedbackSource

from .conftest import csrf_from, post_form
from .factories import T0, make_category, make_customer, small_journey

MARKUP = "<script>alert(1)</script>"


@pytest.fixture
def link(app: Flask, db_session: Session) -> FeedbackLink:
    small_journey(db_session)
    make_category(db_session, "other", "Sonstiges")
    make_category(db_session, "service-quality", "Servicequalität")
    created = links.create_link(
        db_session, touchpoint_key="hotline", kind="nps", label="Hotline-Ansage", actor=None, at=T0
    )
    db_session.commit()
    return created


def _count(session: Session, model: Any) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def _send(client: FlaskClient, link: FeedbackLink, data: dict[str, str], query: str = "") -> Any:
    page = client.get(f"/f/{link.token}{query}")
    token = csrf_from(page.get_data(as_text=True))
    return client.post(f"/f/{link.token}{query}", data={**data, "csrf_token": token})


# --- admin pages ---------------------------------------------------------------------------------


def test_a_manager_creates_a_link_with_an_unguessable_token(
    client: FlaskClient, db_session: Session, login_as
) -> None:
    small_journey(db_session)
    login_as(Role.TOUCHPOINT_MANAGER)
    response = post_form(
        client,
        "/admin/feedback-links/",
        None,
        {"touchpoint": "website", "kind": "csat", "label": "Kasse im Shop"},
    )
    assert response.status_code == 302
    created = db_session.scalar(select(FeedbackLink))
    assert response.headers["Location"] == f"/admin/feedback-links/{created.id}"
    assert len(created.token) == 32
    assert re.fullmatch(r"[A-Za-z0-9_-]+", created.token)
    assert (created.touchpoint.key, created.kind.value, created.active) == ("website", "csat", True)
    listing = client.get("/admin/feedback-links/").get_data(as_text=True)
    assert f"http://127.0.0.1:5000/f/{created.token}" in listing
    assert "Kasse im Shop" in listing


def test_bad_link_input_is_named_and_kept(
    client: FlaskClient, db_session: Session, login_as
) -> None:
    small_journey(db_session)
    login_as(Role.ADMIN)
    response = post_form(
        client, "/admin/feedback-links/", None, {"touchpoint": "", "kind": "nps", "label": MARKUP}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="touchpoint-error"' in html
    assert "&lt;script&gt;" in html
    assert _count(db_session, FeedbackLink) == 0


def test_the_print_page_has_a_qr_code_as_svg_and_the_address(
    client: FlaskClient, db_session: Session, link: FeedbackLink, login_as
) -> None:
    login_as(Role.TOUCHPOINT_MANAGER)
    html = client.get(f"/admin/feedback-links/{link.id}").get_data(as_text=True)
    url = f"http://127.0.0.1:5000/f/{link.token}"
    assert url in html
    svg = re.search(r"<svg\b.*?</svg>", html, re.S)
    assert svg is not None
    root = ET.fromstring(svg.group(0))  # noqa: S314 - our own page; well-formed XML
    assert root.tag == "svg"
    assert "viewBox" in root.attrib
    assert root.find("path") is not None
    assert len(root.find("path").attrib["d"]) > 100
    assert "style=" not in svg.group(0)
    assert "<script" not in svg.group(0)


def test_disabling_a_link_makes_its_page_404_and_enabling_brings_it_back(
    client: FlaskClient, db_session: Session, link: FeedbackLink, login_as
) -> None:
    login_as(Role.TOUCHPOINT_MANAGER)
    assert client.get(f"/f/{link.token}").status_code == 200
    response = post_form(
        client, "/admin/feedback-links/", f"/admin/feedback-links/{link.id}/disable", {}
    )
    assert response.status_code == 302
    assert client.get(f"/f/{link.token}").status_code == 404
    assert client.get(f"/f/{link.token}/thanks").status_code == 404
    post_form(client, "/admin/feedback-links/", f"/admin/feedback-links/{link.id}/enable", {})
    assert client.get(f"/f/{link.token}").status_code == 200


def test_a_disabled_link_takes_no_submission(
    client: FlaskClient, db_session: Session, link: FeedbackLink
) -> None:
    token = csrf_from(client.get(f"/f/{link.token}").get_data(as_text=True))
    links.set_link_active(db_session, link, active=False, actor=None, at=T0)
    db_session.commit()
    response = client.post(f"/f/{link.token}", data={"score": "9", "csrf_token": token})
    assert response.status_code == 404
    assert _count(db_session, FeedbackResponse) == 0


def test_unknown_tokens_are_404(
    client: FlaskClient, db_session: Session, link: FeedbackLink
) -> None:
    assert client.get("/f/not-a-token").status_code == 404
    assert client.get(f"/f/{link.token[:-1]}").status_code == 404


@pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER, Role.TEAM_LEAD])
def test_link_administration_needs_the_permission(
    client: FlaskClient, db_session: Session, link: FeedbackLink, login_as, role: Role
) -> None:
    login_as(role)
    assert client.get("/admin/feedback-links/").status_code == 403
    assert client.get(f"/admin/feedback-links/{link.id}").status_code == 403
    token = csrf_from(client.get("/account").get_data(as_text=True))
    disable = client.post(f"/admin/feedback-links/{link.id}/disable", data={"csrf_token": token})
    assert disable.status_code == 403
    db_session.refresh(link)
    assert link.active


# --- the public page -----------------------------------------------------------------------------


def test_the_public_page_speaks_english_and_german(
    client: FlaskClient, db_session: Session, link: FeedbackLink
) -> None:
    english = client.get(f"/f/{link.token}", headers={"Accept-Language": "en-GB,en;q=0.8"})
    html = english.get_data(as_text=True)
    assert english.status_code == 200
    assert '<html lang="en">' in html
    assert "How likely are you to recommend us" in html
    assert html.count('type="radio"') == 11  # NPS 0–10
    german = client.get(f"/f/{link.token}", headers={"Accept-Language": "de-DE"})
    assert '<html lang="de">' in german.get_data(as_text=True)
    asked = client.get(f"/f/{link.token}?lang=en", headers={"Accept-Language": "de"})
    assert '<html lang="en">' in asked.get_data(as_text=True)
    assert f'action="/f/{link.token}?lang=en"' in asked.get_data(as_text=True)
    unknown = client.get(f"/f/{link.token}?lang=xx", headers={"Accept-Language": "de"})
    assert '<html lang="de">' in unknown.get_data(as_text=True)
    # no inline scripts or styles: the strict CSP would block them
    assert "<script>" not in html
    assert "style=" not in html
    assert "default-src 'self'" in english.headers["Content-Security-Policy"]


@pytest.mark.parametrize(("kind", "options"), [("csat", 5), ("ces", 7)])
def test_the_scale_follows_the_kind(
    client: FlaskClient, db_session: Session, link: FeedbackLink, kind: str, options: int
) -> None:
    other = links.create_link(
        db_session, touchpoint_key="app", kind=kind, label=kind, actor=None, at=T0
    )
    db_session.commit()
    html = client.get(f"/f/{other.token}?lang=en").get_data(as_text=True)
    assert html.count('type="radio"') == options


def test_an_anonymous_answer_is_stored_from_the_link(
    client: FlaskClient, db_session: Session, link: FeedbackLink
) -> None:
    response = _send(
        client,
        link,
        # name typed but no consent: not kept
        {"score": "9", "comment": "Sehr freundlich", "name": "Erika", "email": "e@example.org"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/f/{link.token}/thanks"
    stored = db_session.scalar(select(FeedbackResponse))
    assert (stored.score, stored.comment, stored.channel.value) == (9, "Sehr freundlich", "web")
    assert (stored.source, stored.link_id) == (FeedbackSource.LINK, link.id)
    assert stored.customer_id is None
    assert stored.contact_consent is False
    assert _count(db_session, Customer) == 0
    thanks = client.get(f"/f/{link.token}/thanks?lang=en").get_data(as_text=True)
    assert "Thank you" in thanks


def test_a_complaint_from_the_link_creates_the_customer_and_is_routed(
    client: FlaskClient, db_session: Session, link: FeedbackLink
) -> None:
    response = _send(
        client,
        link,
        {
            "score": "2",
            "comment": "Dreimal falsch verbunden.",
            "wants_complaint": "y",
            "contact_consent": "y",
            "name": "Erika Musterfrau",
            "email": "Erika@Example.org",
        },
        query="?lang=en",
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/f/{link.token}/thanks?lang=en"
    customer = db_session.scalar(select(Customer))
    assert customer.external_ref.startswith("WEB-")
    assert (customer.name, customer.email, customer.contact_consent) == (
        "Erika Musterfrau",
        "erika@example.org",
        True,
    )
    assert customer.language == "en"
    complaint = db_session.scalar(select(Complaint))
    assert _count(db_session, Complaint) == 1  # the complaint is the follow-up: not two
    assert complaint.channel.value == "web"
    assert complaint.category.key == "other"
    assert complaint.customer_id == customer.id
    assert complaint.team.name == link.touchpoint.owner_team.name
    assert complaint.description == "Dreimal falsch verbunden."
    answer = db_session.scalar(select(FeedbackResponse))
    assert answer.follow_up_id == complaint.id
    assert answer.customer_id == customer.id
    assert answer.contact_consent is True
    thanks = client.get(f"/f/{link.token}/thanks?lang=en").get_data(as_text=True)
    assert complaint.reference in thanks


def test_a_complaint_needs_no_score(
    client: FlaskClient, db_session: Session, link: FeedbackLink
) -> None:
    response = _send(
        client,
        link,
        {
            "comment": "Beschwerde",
            "wants_complaint": "y",
            "contact_consent": "y",
            "name": "Max",
            "email": "max@example.org",
        },
    )
    assert response.status_code == 302
    assert _count(db_session, Complaint) == 1
    assert _count(db_session, FeedbackResponse) == 0


def test_a_known_customer_is_found_by_number_and_email(
    client: FlaskClient, db_session: Session, link: FeedbackLink
) -> None:
    known = make_customer(db_session, "K-77", email="max@example.org")
    data = {
        "comment": "Beschwerde",
        "wants_complaint": "y",
        "contact_consent": "y",
        "name": "Max",
        "email": "MAX@example.org",
        "customer_number": "K-77",
    }
    assert _send(client, link, data).status_code == 302
    complaint = db_session.scalar(select(Complaint))
    assert complaint.customer_id == known.id
    assert _count(db_session, Customer) == 1


def test_a_number_with_the_wrong_email_does_not_pick_that_customer(
    client: FlaskClient, db_session: Session, link: FeedbackLink
) -> None:
    make_customer(db_session, "K-77", email="max@example.org")
    data = {
        "comment": "Beschwerde",
        "wants_complaint": "y",
        "contact_consent": "y",
        "name": "Mallory",
        "email": "mallory@example.org",
        "customer_number": "K-77",
    }
    assert _send(client, link, data).status_code == 302
    complaint = db_session.scalar(select(Complaint))
    assert complaint.customer.external_ref.startswith("WEB-")
    assert "K-77" in complaint.description  # for the agent, who may merge
    assert _count(db_session, Customer) == 2


def test_a_complaint_without_consent_or_contact_is_refused_and_kept_in_the_form(
    client: FlaskClient, db_session: Session, link: FeedbackLink
) -> None:
    response = _send(
        client,
        link,
        {"score": "1", "comment": "Mein Text bleibt", "wants_complaint": "y", "email": "x"},
        query="?lang=en",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Mein Text bleibt" in html
    assert "contact_consent-error" in html
    with_consent = _send(
        client,
        link,
        {
            "score": "1",
            "comment": "Text",
            "wants_complaint": "y",
            "contact_consent": "y",
            "email": "x",
        },
    )
    html = with_consent.get_data(as_text=True)
    assert with_consent.status_code == 422
    assert "name-error" in html
    assert "email-error" in html
    assert (_count(db_session, FeedbackResponse), _count(db_session, Complaint)) == (0, 0)
    assert _count(db_session, Customer) == 0


def test_a_score_or_a_complaint_is_needed_and_scores_stay_on_the_scale(
    client: FlaskClient, db_session: Session, link: FeedbackLink
) -> None:
    for data in ({"comment": "nur Text"}, {"score": "11"}, {"score": "-1"}, {"score": "zehn"}):
        response = _send(client, link, data)
        assert response.status_code == 422, data
        assert "score-error" in response.get_data(as_text=True)
    assert _count(db_session, FeedbackResponse) == 0


def test_a_negative_answer_with_consent_closes_the_loop(
    client: FlaskClient, db_session: Session, link: FeedbackLink
) -> None:
    data = {
        "score": "3",
        "contact_consent": "y",
        "name": "Max",
        "email": "max@example.org",
    }
    assert _send(client, link, data).status_code == 302
    answer = db_session.scalar(select(FeedbackResponse))
    complaint = db_session.scalar(select(Complaint))
    assert answer.follow_up_id == complaint.id
    assert complaint.category.key == "service-quality"
    assert complaint.channel.value == "web"


def test_a_complaint_that_cannot_be_opened_keeps_the_answer(
    app: Flask,
    client: FlaskClient,
    db_session: Session,
    link: FeedbackLink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, "FEEDBACK_LINK_COMPLAINT_CATEGORY", "missing")
    contact = {"contact_consent": "y", "name": "Max", "email": "max@example.org"}
    only_complaint = _send(
        client, link, {"comment": "Bitte melden", "wants_complaint": "y", **contact}
    )
    # Nothing would keep the words: refused, and the text stays in the form.
    assert only_complaint.status_code == 422
    assert "Bitte melden" in only_complaint.get_data(as_text=True)
    assert _count(db_session, Customer) == 0
    with_score = _send(
        client, link, {"score": "1", "comment": "Bitte melden", "wants_complaint": "y", **contact}
    )
    assert with_score.status_code == 302
    answer = db_session.scalar(select(FeedbackResponse))
    assert answer.comment == "Bitte melden"
    assert answer.follow_up_id is None
    assert _count(db_session, Complaint) == 0


def test_the_honeypot_answers_like_success_and_saves_nothing(
    client: FlaskClient, db_session: Session, link: FeedbackLink
) -> None:
    response = _send(
        client, link, {"score": "10", "comment": "Buy cheap pills", "homepage": "http://spam"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/f/{link.token}/thanks"
    assert _count(db_session, FeedbackResponse) == 0


def test_the_31st_submission_in_a_minute_from_one_address_is_429(
    client: FlaskClient, db_session: Session, link: FeedbackLink
) -> None:
    assert client.application.config["FEEDBACK_LINK_RATE_LIMIT"] == "30 per minute"
    token = csrf_from(client.get(f"/f/{link.token}").get_data(as_text=True))
    statuses = [
        client.post(f"/f/{link.token}", data={"score": "8", "csrf_token": token}).status_code
        for _ in range(31)
    ]
    assert statuses[:30] == [302] * 30
    assert statuses[30] == 429
    assert _count(db_session, FeedbackResponse) == 30
    assert client.get(f"/f/{link.token}").status_code == 200  # reading is not limited
    other_address = client.post(
        f"/f/{link.token}",
        data={"score": "8", "csrf_token": token},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert other_address.status_code == 302  # the limit is per client address


def test_a_complaint_from_a_link_appears_in_the_owning_teams_queue(
    app: Flask, client: FlaskClient, db_session: Session, link: FeedbackLink, login_as
) -> None:
    customer = app.test_client()  # the customer's browser, not the team lead's
    response = _send(
        customer,
        link,
        {
            "comment": "Niemand ruft zurück.",
            "wants_complaint": "y",
            "contact_consent": "y",
            "name": "Erika Musterfrau",
            "email": "erika@example.org",
        },
    )
    assert response.status_code == 302
    complaint = db_session.scalar(select(Complaint))
    owner = link.touchpoint.owner_team.name
    assert complaint.team.name == owner
    login_as(Role.TEAM_LEAD, team=owner)
    queue = client.get("/team-queue")
    assert queue.status_code == 200
    assert f'href="/complaints/{complaint.reference}"' in queue.get_data(as_text=True)


def test_length_limits_and_nul_bytes_are_refused(
    client: FlaskClient, db_session: Session, link: FeedbackLink
) -> None:
    assert _send(client, link, {"score": "5", "comment": "x" * 5001}).status_code == 422
    assert _send(client, link, {"score": "5", "comment": "a\x00b"}).status_code == 400
    assert (
        _send(client, link, {"score": "5", "name": "n" * 201, "contact_consent": "y"}).status_code
        == 422
    )
    assert _count(db_session, FeedbackResponse) == 0


def test_markup_in_a_comment_is_shown_escaped(
    client: FlaskClient, db_session: Session, link: FeedbackLink, login_as
) -> None:
    assert _send(client, link, {"score": "0", "comment": MARKUP}).status_code == 302
    login_as(Role.TOUCHPOINT_MANAGER)
    html = client.get("/feedback/").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html


def test_link_answers_are_counted_on_the_admin_page(
    client: FlaskClient, db_session: Session, link: FeedbackLink, login_as
) -> None:
    _send(client, link, {"score": "7"})
    login_as(Role.ADMIN)
    html = client.get("/admin/feedback-links/").get_data(as_text=True)
    row = re.search(rf'<tr id="link-{link.id}".*?</tr>', html, re.S)
    assert row is not None
    assert '<td class="num">1</td>' in row.group(0)
