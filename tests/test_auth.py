"""Accounts: login, throttling, sessions, passwords, tokens, the CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cxjourney.audit.models import AuditLog
from cxjourney.auth import services
from cxjourney.auth.models import ApiToken, Role, User

from .conftest import PASSWORD, csrf_from, login, make_user, post_form
from .factories import T0


def test_password_is_stored_as_argon2_hash(db_session: Session) -> None:
    user = make_user(db_session, Role.AGENT)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_email_is_unique_regardless_of_case(db_session: Session) -> None:
    make_user(db_session, Role.AGENT, email="Anna@Example.org")
    with pytest.raises(services.ValidationError) as err:
        make_user(db_session, Role.VIEWER, email="anna@EXAMPLE.org")
    assert "email" in err.value.fields


def test_login_and_logout(client: FlaskClient, db_session: Session) -> None:
    user = make_user(db_session, Role.VIEWER)
    response = login(client, user.email.upper())
    assert response.status_code == 302
    assert client.get("/journey/").status_code == 200
    page = client.get("/account").get_data(as_text=True)
    response = client.post("/logout", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert client.get("/journey/").status_code == 302


def test_wrong_password_is_refused_without_saying_which_part(
    client: FlaskClient, db_session: Session
) -> None:
    user = make_user(db_session, Role.VIEWER)
    response = login(client, user.email, "wrong-password-1")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "E-Mail-Adresse oder Passwort ist falsch" in text  # German is the default
    assert client.get("/journey/").status_code == 302


def test_eleven_wrong_passwords_in_a_minute_get_429(
    client: FlaskClient, db_session: Session
) -> None:
    user = make_user(db_session, Role.VIEWER)
    statuses = [login(client, user.email, f"wrong-{i}").status_code for i in range(11)]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429
    # the right password is throttled too until the window passes: the account is protected
    assert login(client, user.email).status_code == 429


def test_throttle_is_per_account(client: FlaskClient, db_session: Session) -> None:
    victim = make_user(db_session, Role.VIEWER, email="victim@example.org")
    other = make_user(db_session, Role.VIEWER, email="other@example.org")
    for i in range(11):
        login(client, victim.email, f"wrong-{i}")
    assert login(client, other.email).status_code == 302


def test_deactivated_user_cannot_sign_in_and_is_signed_out(
    client: FlaskClient, db_session: Session
) -> None:
    user = make_user(db_session, Role.VIEWER)
    assert login(client, user.email).status_code == 302
    services.update_user(
        db_session,
        user,
        email=user.email,
        name=user.name,
        role=user.role,
        team=None,
        language=None,
        active=False,
        actor=None,
        at=T0,
    )
    db_session.commit()
    assert client.get("/journey/").status_code == 302
    assert login(client, user.email).status_code == 200


def test_password_change_ends_other_sessions(app: Flask, db_session: Session) -> None:
    user = make_user(db_session, Role.VIEWER)
    first, second = app.test_client(), app.test_client()
    assert login(first, user.email).status_code == 302
    assert login(second, user.email, remember="y").status_code == 302
    response = post_form(
        first,
        "/account",
        None,
        {
            "pw-current_password": PASSWORD,
            "pw-new_password": "another-long-secret",
            "pw-confirm": "another-long-secret",
        },
    )
    assert response.status_code == 302
    assert first.get("/journey/").status_code == 200  # the session that changed it stays
    assert second.get("/journey/").status_code == 302  # the other one, remember-me too, is out
    assert login(second, user.email, "another-long-secret").status_code == 302


def test_remember_me_sets_a_persistent_cookie(client: FlaskClient, db_session: Session) -> None:
    user = make_user(db_session, Role.VIEWER)
    response = login(client, user.email, remember="y")
    cookies = response.headers.getlist("Set-Cookie")
    remember = [c for c in cookies if c.startswith("remember_token=")]
    assert remember
    assert "HttpOnly" in remember[0]
    assert "Expires=" in remember[0]


def test_open_redirect_after_login_is_refused(client: FlaskClient, db_session: Session) -> None:
    user = make_user(db_session, Role.VIEWER)
    page = client.get("/login?next=https://evil.example/")
    response = client.post(
        "/login?next=https://evil.example/",
        data={
            "email": user.email,
            "password": PASSWORD,
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/journey/"


def test_login_form_without_csrf_token_is_refused(client: FlaskClient, db_session: Session) -> None:
    user = make_user(db_session, Role.VIEWER)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/journey/").status_code == 302


def test_admin_creates_and_deactivates_a_user(client: FlaskClient, login_as, db_session) -> None:
    login_as(Role.ADMIN)
    response = post_form(
        client,
        "/admin/users/new",
        None,
        {
            "email": "New@Example.org",
            "name": "Neu",
            "role": "agent",
            "team": "",
            "language": "de",
            "password": "a-long-password",
        },
    )
    assert response.status_code == 302
    created = services.find_user_by_email(db_session, "new@example.org")
    assert created is not None
    assert created.role is Role.AGENT
    assert created.language == "de"
    response = post_form(
        client,
        f"/admin/users/{created.id}",
        None,
        {"email": created.email, "name": "Neu", "role": "agent", "team": "", "language": ""},
    )
    assert response.status_code == 302
    db_session.refresh(created)
    assert created.active is False  # the unchecked box deactivates


def test_admin_form_keeps_what_was_typed_on_error(client: FlaskClient, login_as) -> None:
    admin = login_as(Role.ADMIN)
    response = post_form(
        client,
        "/admin/users/new",
        None,
        {
            "email": admin.email,
            "name": "Zweite Person",
            "role": "viewer",
            "team": "",
            "language": "",
            "password": "a-long-password",
        },
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert 'value="Zweite Person"' in text
    assert "Es gibt bereits ein Konto mit dieser E-Mail-Adresse." in text


def test_audit_log_never_holds_passwords_or_tokens(db_session: Session) -> None:
    user = make_user(db_session, Role.ADMIN)
    token = services.issue_token(db_session, user, actor=user, at=T0)
    services.change_password(db_session, user, new_password="brand-new-secret", actor=user, at=T0)
    db_session.commit()
    rows = db_session.scalars(select(AuditLog)).all()
    dumped = repr([(r.before, r.after, r.entity_label) for r in rows])
    assert {"user.created", "user.token_issued", "user.password_changed"} <= {
        r.action for r in rows
    }
    for secret in (PASSWORD, "brand-new-secret", token, user.password_hash):
        assert secret not in dumped


def test_token_is_stored_only_as_hash_and_authenticates(
    client: FlaskClient, db_session: Session
) -> None:
    user = make_user(db_session, Role.VIEWER)
    token = services.issue_token(db_session, user, actor=None, at=T0)
    db_session.commit()
    stored = db_session.scalars(select(ApiToken)).one()
    assert token not in (stored.token_hash, stored.prefix)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["email"] == user.email
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer cxj_not-a-token"})
    assert bad.status_code == 401
    assert bad.get_json()["error"]["code"] == "unauthorized"


def test_api_ignores_the_session_cookie(client: FlaskClient, login_as) -> None:
    login_as(Role.ADMIN)
    assert client.get("/api/v1/me").status_code == 401


def _cli(app: Flask, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PATH": "/usr/bin:/bin",
        "CXJOURNEY_LOGIN_RATE_LIMIT": "10 per minute",
    }
    return subprocess.run(
        [sys.executable, "-m", "cxjourney.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


def test_cli_creates_user_with_password_from_stdin_and_issues_token(
    app: Flask, db_session: Session
) -> None:
    created = _cli(
        app,
        "users",
        "create",
        "Cli@Example.org",
        "--name",
        "Per Kommando",
        "--role",
        "touchpoint_manager",
        stdin="a-long-password\n",
    )
    assert created.returncode == 0, created.stderr
    user = db_session.scalar(select(User).where(User.email == "cli@example.org"))
    assert user is not None
    assert services.verify_password(user, "a-long-password")
    issued = _cli(app, "users", "token", "cli@example.org")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().splitlines()[-1]
    db_session.expire_all()
    assert services.find_user_by_token(db_session, token).id == user.id


def test_cli_rejects_a_short_password(app: Flask, db_session: Session) -> None:
    result = _cli(
        app, "users", "create", "x@example.org", "--name", "X", "--role", "agent", stdin="short\n"
    )
    assert result.returncode != 0
    assert "password" in result.stderr.lower() or "passwort" in result.stderr.lower()
    assert services.find_user_by_email(db_session, "x@example.org") is None
