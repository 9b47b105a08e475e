"""Admin pages: users and teams."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user

from ..errors import ValidationError
from ..extensions import db, utcnow
from ..web import form_status, save_form
from . import services
from .forms import TeamForm, UserForm, language_choices, role_choices
from .models import Role
from .permissions import Permission, requires

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _user_form(obj: Any = None) -> UserForm:
    form = UserForm(obj=obj)
    form.role.choices = role_choices()
    form.team.choices = [("", _("— no team —"))] + [
        (str(t.id), t.name) for t in services.list_teams(db.session, active_only=True)
    ]
    form.language.choices = language_choices()
    if obj is not None and request.method == "GET":
        form.role.data = obj.role.value
        form.team.data = str(obj.team_id) if obj.team_id else ""
        form.language.data = obj.language or ""
    return form


def _team_of(form: UserForm) -> Any:
    return services.get_team(db.session, int(form.team.data)) if form.team.data else None


@bp.get("/users")
@requires(Permission.MANAGE_USERS)
def users() -> Any:
    return render_template("admin/users.html", users=services.list_users(db.session))


@bp.route("/users/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_USERS)
def user_new() -> Any:
    form = _user_form()
    if form.validate_on_submit():
        if not form.password.data:
            form.password.errors = [_("Set an initial password.")]
        else:
            try:
                user = services.create_user(
                    db.session,
                    email=form.email.data,
                    name=form.name.data,
                    role=Role(form.role.data),
                    password=form.password.data,
                    team=_team_of(form),
                    language=form.language.data or None,
                    actor=current_user,
                    at=utcnow(),
                )
            except ValidationError as exc:
                db.session.rollback()
                form.add_errors(exc)
            else:
                db.session.commit()
                flash(_("Account %(email)s created.", email=user.email), "success")
                return redirect(url_for("admin.users"))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form, user=None), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires(Permission.MANAGE_USERS)
def user_edit(user_id: int) -> Any:
    user = services.get_user(db.session, user_id)
    form = _user_form(obj=user)

    def save() -> Any:
        services.update_user(
            db.session,
            user,
            email=form.email.data,
            name=form.name.data,
            role=Role(form.role.data),
            team=_team_of(form),
            language=form.language.data or None,
            active=form.active.data,
            actor=current_user,
            at=utcnow(),
        )
        if form.password.data:
            services.change_password(
                db.session, user, new_password=form.password.data, actor=current_user, at=utcnow()
            )
        return user

    if save_form(form, save) is not None:
        if form.password.data and user.id == current_user.id:
            login_user(user)  # the new nonce ended every session, this one included
        flash(_("Account %(email)s saved.", email=user.email), "success")
        return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=user), form_status()


@bp.get("/teams")
@requires(Permission.MANAGE_TEAMS)
def teams() -> Any:
    return render_template(
        "admin/teams.html",
        teams=services.list_teams(db.session),
        members=services.count_team_members(db.session),
    )


@bp.route("/teams/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_TEAMS)
def team_new() -> Any:
    form = TeamForm()
    if (
        team := save_form(
            form,
            lambda: services.create_team(
                db.session, name=form.name.data, actor=current_user, at=utcnow()
            ),
        )
    ) is not None:
        flash(_("Team %(name)s created.", name=team.name), "success")
        return redirect(url_for("admin.teams"))
    return render_template("admin/team_form.html", form=form, team=None), form_status()


@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
@requires(Permission.MANAGE_TEAMS)
def team_edit(team_id: int) -> Any:
    team = services.get_team(db.session, team_id)
    form = TeamForm(obj=team)
    if (
        save_form(
            form,
            lambda: services.update_team(
                db.session,
                team,
                name=form.name.data,
                active=form.active.data,
                actor=current_user,
                at=utcnow(),
            ),
        )
        is not None
    ):
        flash(_("Team %(name)s saved.", name=team.name), "success")
        return redirect(url_for("admin.teams"))
    return render_template("admin/team_form.html", form=form, team=team), form_status()
