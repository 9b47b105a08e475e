"""Accounts: users, teams, passwords (argon2) and API tokens."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session, lazyload

from ..audit.services import record_audit
from ..errors import NotFound, ValidationError
from .models import ApiToken, Role, Team, User

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
TOKEN_PREFIX = "cxj_"  # noqa: S105 - a public prefix, not a secret
LANGUAGES = ("de", "en")

_hasher = PasswordHasher()
# Verified against when the email is unknown, so timing does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-" + secrets.token_hex(8))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _new_nonce() -> str:
    return secrets.token_hex(16)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _check_email(email: str) -> str:
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise ValidationError({"email": str(_l("Enter a valid email address."))}) from None
    return result.normalized.lower()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            {"password": str(_l("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))}
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(
            {"password": str(_l("Use at most %(n)d characters.", n=MAX_PASSWORD_LENGTH))}
        )


def _check_name(name: str, field: str = "name", max_length: int = 120) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ValidationError({field: str(_l("This field is required."))})
    if len(cleaned) > max_length:
        raise ValidationError({field: str(_l("Use at most %(n)d characters.", n=max_length))})
    return cleaned


def user_snapshot(user: User) -> dict[str, Any]:
    """The audited view of a user: never the password hash or session nonce."""
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "team": user.team.name if user.team else None,
        "language": user.language,
        "active": user.active,
    }


def team_snapshot(team: Team) -> dict[str, Any]:
    return {"name": team.name, "active": team.active}


# --- reads -------------------------------------------------------------------------------


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(str(_l("No such user.")))
    return user


def get_user_by_email(session: Session, email: str) -> User:
    user = find_user_by_email(session, email)
    if user is None:
        raise NotFound(str(_l("No user with the email %(email)s.", email=email)))
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.active.desc(), User.name)))


def list_users_for_choice(session: Session, *roles: Role) -> list[User]:
    query = select(User).where(User.active.is_(True)).order_by(User.name)
    if roles:
        query = query.where(User.role.in_(roles))
    return list(session.scalars(query))


def get_team(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(str(_l("No such team.")))
    return team


def find_team_by_name(session: Session, name: str) -> Team | None:
    cleaned = " ".join(name.split())
    return session.scalar(select(Team).where(func.lower(Team.name) == cleaned.lower()))


def list_teams(session: Session, *, active_only: bool = False) -> list[Team]:
    query = select(Team).order_by(Team.name)
    if active_only:
        query = query.where(Team.active.is_(True))
    return list(session.scalars(query))


def count_team_members(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(User.team_id, func.count(User.id))
        .where(User.team_id.is_not(None), User.active.is_(True))
        .group_by(User.team_id)
    )
    return dict(rows.all())


# --- teams -------------------------------------------------------------------------------


def create_team(session: Session, *, name: str, actor: User | None, at: datetime) -> Team:
    """Create a team. Raises ValidationError when the name is empty or taken."""
    cleaned = _check_name(name)
    if find_team_by_name(session, cleaned) is not None:
        raise ValidationError({"name": str(_l("A team with this name exists already."))})
    team = Team(name=cleaned, active=True, created_at=at)
    session.add(team)
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="team.created",
        entity_type="team",
        entity_id=team.id,
        entity_label=team.name,
        after=team_snapshot(team),
    )
    return team


def update_team(
    session: Session, team: Team, *, name: str, active: bool, actor: User | None, at: datetime
) -> Team:
    """Rename or (de)activate a team. Raises ValidationError on an empty or taken name."""
    before = team_snapshot(team)
    cleaned = _check_name(name)
    other = find_team_by_name(session, cleaned)
    if other is not None and other.id != team.id:
        raise ValidationError({"name": str(_l("A team with this name exists already."))})
    team.name = cleaned
    team.active = active
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="team.updated",
        entity_type="team",
        entity_id=team.id,
        entity_label=team.name,
        before=before,
        after=team_snapshot(team),
    )
    return team


# --- users -------------------------------------------------------------------------------


def _resolve_team(session: Session, team: Team | str | None) -> Team | None:
    if team is None or isinstance(team, Team):
        return team
    found = find_team_by_name(session, team)
    if found is None:
        raise ValidationError({"team": str(_l("No team named %(name)s.", name=team))})
    return found


def _check_language(language: str | None) -> str | None:
    if language in (None, ""):
        return None
    if language not in LANGUAGES:
        raise ValidationError({"language": str(_l("Choose German or English."))})
    return language


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: Role,
    password: str,
    team: Team | str | None = None,
    language: str | None = None,
    actor: User | None,
    at: datetime,
) -> User:
    """Create an active account. Raises ValidationError naming each bad field."""
    problems: dict[str, str] = {}
    try:
        normalized = _check_email(email)
    except ValidationError as exc:
        problems.update(exc.fields)
        normalized = ""
    for check in (lambda: _check_name(name), lambda: _check_password(password)):
        try:
            check()
        except ValidationError as exc:
            problems.update(exc.fields)
    try:
        resolved_team = _resolve_team(session, team)
        language = _check_language(language)
    except ValidationError as exc:
        problems.update(exc.fields)
        resolved_team = None
    if normalized and find_user_by_email(session, normalized) is not None:
        problems["email"] = str(_l("An account with this email exists already."))
    if problems:
        raise ValidationError(problems)
    user = User(
        email=normalized,
        name=_check_name(name),
        role=role,
        password_hash=hash_password(password),
        team=resolved_team,
        language=language,
        active=True,
        session_nonce=_new_nonce(),
        created_at=at,
    )
    session.add(user)
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="user.created",
        entity_type="user",
        entity_id=user.id,
        entity_label=user.email,
        after=user_snapshot(user),
    )
    return user


def update_user(
    session: Session,
    user: User,
    *,
    email: str,
    name: str,
    role: Role,
    team: Team | str | None,
    language: str | None,
    active: bool,
    actor: User | None,
    at: datetime,
) -> User:
    """Change an account's profile, role, team or active flag.

    Deactivating ends the user's sessions. Raises ValidationError naming each bad field.
    """
    before = user_snapshot(user)
    problems: dict[str, str] = {}
    normalized = user.email
    try:
        normalized = _check_email(email)
        other = find_user_by_email(session, normalized)
        if other is not None and other.id != user.id:
            problems["email"] = str(_l("An account with this email exists already."))
    except ValidationError as exc:
        problems.update(exc.fields)
    try:
        cleaned_name = _check_name(name)
    except ValidationError as exc:
        problems.update(exc.fields)
        cleaned_name = user.name
    try:
        resolved_team = _resolve_team(session, team)
        language = _check_language(language)
    except ValidationError as exc:
        problems.update(exc.fields)
        resolved_team = user.team
    if actor is not None and actor.id == user.id and (not active or role != user.role):
        problems["role" if active else "active"] = str(
            _l("You cannot demote or deactivate your own account.")
        )
    if problems:
        raise ValidationError(problems)
    if user.active and not active:
        user.session_nonce = _new_nonce()
    user.email = normalized
    user.name = cleaned_name
    user.role = role
    user.team = resolved_team
    user.language = language
    user.active = active
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="user.updated",
        entity_type="user",
        entity_id=user.id,
        entity_label=user.email,
        before=before,
        after=user_snapshot(user),
    )
    return user


def set_language(session: Session, user: User, *, language: str | None, at: datetime) -> None:
    """Set the user's interface language (None: follow the browser)."""
    before = user_snapshot(user)
    user.language = _check_language(language)
    session.flush()
    record_audit(
        session,
        actor=user,
        at=at,
        action="user.language_changed",
        entity_type="user",
        entity_id=user.id,
        entity_label=user.email,
        before=before,
        after=user_snapshot(user),
    )


def change_password(
    session: Session, user: User, *, new_password: str, actor: User | None, at: datetime
) -> None:
    """Set a new password and end every session of the user (the nonce changes).

    Raises ValidationError when the password is too short or too long.
    """
    _check_password(new_password)
    user.password_hash = hash_password(new_password)
    user.session_nonce = _new_nonce()
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="user.password_changed",
        entity_type="user",
        entity_id=user.id,
        entity_label=user.email,
    )


def verify_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(session: Session, *, email: str, password: str, at: datetime) -> User | None:
    """Return the active user with this email and password, else None (no hint which failed)."""
    user = find_user_by_email(session, email)
    if user is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return None
    if not verify_password(user, password) or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = at
    return user


def load_session_user(session: Session, session_id: str) -> User | None:
    """Resolve the id Flask-Login stored in the cookie ("<id>:<nonce>")."""
    user_id, _, nonce = session_id.partition(":")
    if not user_id.isdigit() or not nonce:
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.active or not secrets.compare_digest(user.session_nonce, nonce):
        return None
    return user


# --- API tokens --------------------------------------------------------------------------


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, user: User, *, actor: User | None, at: datetime) -> str:
    """Create an API token for ``user`` and return it; only its hash is stored."""
    if not user.active:
        raise ValidationError({"email": str(_l("This account is deactivated."))})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user=user,
            token_hash=_token_digest(token),
            prefix=token[: len(TOKEN_PREFIX) + 4],
            created_at=at,
        )
    )
    session.flush()
    record_audit(
        session,
        actor=actor,
        at=at,
        action="user.token_issued",
        entity_type="user",
        entity_id=user.id,
        entity_label=user.email,
    )
    return token


def find_user_by_token(session: Session, token: str) -> User | None:
    """The active user owning this unrevoked token, else None.

    Runs on every API request: one query for the user alone (the team loads when used).
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    return session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == _token_digest(token),
            ApiToken.revoked_at.is_(None),
            User.active.is_(True),
        )
        .options(lazyload(User.team))
    )
