"""Attachments: checked by content, stored outside the database, served only to those who
may see the complaint, always as downloads."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxjourney.auth.models import Role
from cxjourney.complaints.models import Attachment, Complaint

from .conftest import csrf_from
from .factories import make_category, make_customer, make_team, make_touchpoint

# A minimal but real PDF and PNG (magic numbers are what the check reads).
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)
HTML = b"<html><script>alert(1)</script></html>"

INTAKE = {
    "customer_ref": "K-1",
    "touchpoint": "hotline",
    "channel": "letter",
    "category": "billing",
    "severity": "medium",
    "subject": "Brief mit Anlage",
    "description": "Kopie der Rechnung anbei.",
}


@pytest.fixture
def ready(app: Flask, db_session: Session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app.config["ATTACHMENT_DIR"] = str(tmp_path / "files")
    make_touchpoint(db_session, "hotline")
    make_category(db_session, "billing", "Rechnung")
    make_customer(db_session, "K-1")
    db_session.commit()
    yield
    app.config["ATTACHMENT_DIR"] = None


def _intake(client: FlaskClient, files: list[tuple[bytes, str, str]]):  # type: ignore[no-untyped-def]
    page = client.get("/complaints/new?customer=K-1").get_data(as_text=True)
    data = {**INTAKE, "csrf_token": csrf_from(page),
            "attachments": [(io.BytesIO(b), name, mime) for b, name, mime in files]}  # fmt: skip
    return client.post("/complaints/new", data=data, content_type="multipart/form-data")


def test_a_scanned_letter_is_stored_outside_the_database_and_downloaded(
    client: FlaskClient, db_session: Session, login_as, ready, tmp_path
) -> None:
    login_as(Role.AGENT, team="Kundenservice")
    response = _intake(
        client, [(PDF, "brief.pdf", "application/pdf"), (PNG, "foto.png", "image/png")]
    )
    assert response.status_code == 302
    stored = db_session.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [a.content_type for a in stored] == ["application/pdf", "image/png"]
    assert (tmp_path / "files" / stored[0].storage_name).read_bytes() == PDF
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    link = re.search(r'href="(/complaints/[^"]+/attachments/\d+)"', page).group(1)
    download = client.get(link)
    assert download.status_code == 200
    assert download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in download.headers["Content-Security-Policy"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("content", "name", "mime"),
    [
        (HTML, "rechnung.pdf", "application/pdf"),  # claims PDF, is HTML
        (PNG, "rechnung.pdf", "application/pdf"),  # claims PDF, is a PNG
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "bild.svg", "image/svg+xml"),
        (b"", "leer.pdf", "application/pdf"),
    ],
)
def test_files_that_are_not_what_they_claim_are_refused(
    client: FlaskClient, db_session: Session, login_as, ready, content: bytes, name: str, mime: str
) -> None:
    login_as(Role.AGENT, team="Kundenservice")
    response = _intake(client, [(content, name, mime)])
    assert response.status_code == 422
    assert name in response.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(Attachment)) == 0
    # nothing half-saved: the complaint went with its refused attachment
    assert db_session.scalar(select(func.count()).select_from(Complaint)) == 0


def test_too_large_a_file_is_refused(
    app: Flask, client: FlaskClient, db_session: Session, login_as, ready
) -> None:
    app.config["ATTACHMENT_MAX_BYTES"] = 100
    try:
        login_as(Role.AGENT, team="Kundenservice")
        response = _intake(client, [(PDF + b" " * 200, "gross.pdf", "application/pdf")])
    finally:
        app.config["ATTACHMENT_MAX_BYTES"] = 10 * 1024 * 1024
    assert response.status_code == 422


def test_another_teams_agent_cannot_guess_the_url(
    app: Flask, client: FlaskClient, db_session: Session, login_as, ready
) -> None:
    login_as(Role.AGENT, team="Kundenservice", email="owner@example.org")
    response = _intake(client, [(PDF, "brief.pdf", "application/pdf")])
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    link = re.search(r'href="(/complaints/[^"]+/attachments/\d+)"', page).group(1)
    make_team(db_session, "Abrechnung")
    db_session.commit()
    other = app.test_client()
    from .conftest import login, make_user

    make_user(db_session, Role.AGENT, email="other@example.org", team="Abrechnung")
    login(other, "other@example.org")
    assert other.get(link).status_code == 404
    reference, attachment_id = re.search(r"/complaints/([^/]+)/attachments/(\d+)", link).groups()
    assert (
        client.get(f"/complaints/{reference}/attachments/{int(attachment_id) + 1}").status_code
        == 404
    )
