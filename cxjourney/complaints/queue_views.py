"""Queues and the team-lead dashboard: my queue, team queue, CSV export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from wtforms import HiddenField, SelectField

from ..auth import services as auth_services
from ..auth.models import Team
from ..auth.permissions import Permission, requires
from ..errors import ValidationError
from ..extensions import db, utcnow
from ..journey import services as journey_services
from ..web import BaseForm
from . import csv_export, queues
from . import dashboard as dashboard_figures
from .labels import severity_labels, sla_labels, status_labels
from .models import ComplaintStatus
from .routing import OPEN_STATUSES, team_agents
from .services import Settings
from .sla import SlaState

bp = Blueprint("queues", __name__)

UNASSIGNED = "none"
TEAM_QUEUE_ARGS = ("team", "status", "sla", "touchpoint", "assignee", "age", "sort", "dir")


def age_labels() -> dict[str, str]:
    return {
        queues.AgeBand.UNDER_1D: _("under 1 day"),
        queues.AgeBand.D1_TO_3: _("1–3 days"),
        queues.AgeBand.D3_TO_7: _("3–7 days"),
        queues.AgeBand.OVER_7D: _("7 days and more"),
    }


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {
        "status_labels": status_labels(),
        "severity_labels": severity_labels(),
        "sla_labels": sla_labels(),
        "age_labels": age_labels(),
    }


def _settings() -> Settings:
    return Settings.from_config(current_app.config)


def _page() -> int:
    return min(max(request.args.get("page", 1, type=int) or 1, 1), 100_000)


def _url_maker(endpoint: str, args: MultiDict[str, str]) -> Callable[..., str]:
    """url_for(endpoint) with the current query, some arguments replaced."""

    def make(**changes: Any) -> str:
        merged = MultiDict(args)
        for name, value in changes.items():
            merged.poplist(name)
            if value is not None:
                merged.setlist(name, value if isinstance(value, list) else [value])
        return url_for(endpoint, **merged.to_dict(flat=False))

    return make


# --- team choice and filters ------------------------------------------------------------------


def _chosen_team(raw: str | None, *, allow_all: bool = False) -> tuple[Team | None, list[Team]]:
    """The team to show and the teams one may choose from (empty: no choice).

    Team leads get their own team whatever was asked; admins pick any team, by default their
    own or the first one (or every team, where ``allow_all``).
    """
    if not queues.may_choose_team(current_user):
        return current_user.team, []
    teams = auth_services.list_teams(db.session)
    if raw:
        try:
            team_id = int(raw)
        except ValueError:
            abort(404)
        team = next((t for t in teams if t.id == team_id), None)
        if team is None:
            abort(404)
        return team, teams
    if allow_all:
        return None, teams
    return current_user.team or (teams[0] if teams else None), teams


def _parse_filter(args: MultiDict[str, str], team: Team | None) -> queues.QueueFilter:
    """Filters from the query; unknown values are ignored. No status ticked: the open ones."""
    valid_statuses = {s.value for s in ComplaintStatus}
    statuses = tuple(ComplaintStatus(s) for s in args.getlist("status") if s in valid_statuses)
    sla = args.get("sla", "")
    age = args.get("age", "")
    assignee = args.get("assignee", "")
    return queues.QueueFilter(
        team_id=team.id if team is not None else None,
        statuses=statuses or OPEN_STATUSES,
        sla_state=SlaState(sla) if sla in {s.value for s in SlaState} else None,
        touchpoint_key=args.get("touchpoint") or None,
        age_band=queues.AgeBand(age) if age in {b.value for b in queues.AgeBand} else None,
        unassigned=assignee == UNASSIGNED,
        assignee_id=int(assignee) if assignee.isascii() and assignee.isdigit() else None,
    )


def _parse_sort(args: MultiDict[str, str]) -> queues.Sort:
    raw = args.get("sort", "")
    key = queues.SortKey(raw) if raw in {k.value for k in queues.SortKey} else queues.SortKey.DUE
    direction = args.get("dir", "")
    descending = direction == "desc" if direction in ("asc", "desc") else key.default_descending
    return queues.Sort(key, descending)


def _filter_args(args: MultiDict[str, str]) -> MultiDict[str, str]:
    return MultiDict([(k, v) for k, v in args.items(multi=True) if k in TEAM_QUEUE_ARGS])


# --- pages ------------------------------------------------------------------------------------


@bp.get("/queue")
@requires(Permission.VIEW_COMPLAINTS)
def my_queue() -> Any:
    result = queues.my_queue(
        db.session, current_user, calendar=_settings().calendar, now=utcnow(), page=_page()
    )
    return render_template(
        "complaints/queue.html",
        mine=True,
        result=result,
        page_url=_url_maker("queues.my_queue", MultiDict()),
    )


class ReassignForm(BaseForm):
    """Bulk reassign from the team queue; the rows ticked come as ``complaint`` values."""

    team = HiddenField()
    back = HiddenField()
    assignee = SelectField(_l("Reassign to"), choices=[])


def _assignee_choices(team: Team) -> list[tuple[str, str]]:
    return [("", _("Team queue (nobody)"))] + [
        (str(u.id), u.name) for u in team_agents(db.session, team)
    ]


@bp.get("/team-queue")
@requires(Permission.ASSIGN_COMPLAINTS)
def team_queue() -> Any:
    team, teams = _chosen_team(request.args.get("team"))
    args = _filter_args(request.args)
    flt = _parse_filter(args, team)
    sort = _parse_sort(args)
    result = None
    form = None
    assignees: list[Any] = []
    if team is not None:
        settings = _settings()
        result = queues.list_queue(
            db.session,
            flt,
            sort,
            viewer=current_user,
            calendar=settings.calendar,
            now=utcnow(),
            page=_page(),
        )
        assignees = queues.team_assignees(db.session, team)
        form = ReassignForm(team=str(team.id), back=urlencode(list(args.items(multi=True))))
        form.assignee.choices = _assignee_choices(team)
    return render_template(
        "complaints/queue.html",
        mine=False,
        result=result,
        team=team,
        teams=teams,
        flt=flt,
        sort=sort,
        args=args,
        assignees=assignees,
        touchpoints=journey_services.list_touchpoints(db.session, include_archived=True),
        form=form,
        unassigned=UNASSIGNED,
        page_url=_url_maker("queues.team_queue", args),
    )


@bp.post("/team-queue/reassign")
@requires(Permission.ASSIGN_COMPLAINTS)
def reassign() -> Any:
    form = ReassignForm()
    team, _teams = _chosen_team(form.team.data)
    back = [(k, v) for k, v in parse_qsl(form.back.data or "") if k in TEAM_QUEUE_ARGS]
    if team is not None and queues.may_choose_team(current_user):
        back = [(k, v) for k, v in back if k != "team"] + [("team", str(team.id))]
    target = url_for("queues.team_queue") + ("?" + urlencode(back) if back else "")
    if team is None:
        flash(_("You do not belong to a team, so there is no team queue to work on."), "error")
        return redirect(target)
    form.assignee.choices = _assignee_choices(team)
    if not form.validate_on_submit():
        flash(_("Choose an active agent of the team, or the team queue."), "error")
        return redirect(target)
    items = [
        (complaint_id, request.form.get(f"version-{complaint_id}", type=int))
        for complaint_id in request.form.getlist("complaint", type=int)
    ]
    if not items:
        flash(_("Tick the complaints to reassign first."), "error")
        return redirect(target)
    assignee = (
        auth_services.get_user(db.session, int(form.assignee.data)) if form.assignee.data else None
    )
    try:
        outcome = queues.reassign_complaints(
            db.session,
            team=team,
            items=items,
            assignee=assignee,
            actor=current_user,
            at=utcnow(),
            settings=Settings.from_config(current_app.config),
        )
    except ValidationError as exc:
        db.session.rollback()
        for message in exc.fields.values():
            flash(message, "error")
        return redirect(target)
    db.session.commit()
    _flash_outcome(outcome)
    return redirect(target)


def _flash_outcome(outcome: queues.ReassignOutcome) -> None:
    moved = len(outcome.moved)
    flash(
        ngettext("%(num)d complaint reassigned.", "%(num)d complaints reassigned.", moved),
        "success" if moved else "info",
    )
    if outcome.unchanged:
        flash(
            ngettext(
                "%(num)d complaint was there already.",
                "%(num)d complaints were there already.",
                len(outcome.unchanged),
            ),
            "info",
        )
    if outcome.stale:
        flash(
            ngettext(
                "%(num)d complaint was changed by someone else in the meantime and was left as "
                "it is: %(refs)s.",
                "%(num)d complaints were changed by someone else in the meantime and were left "
                "as they are: %(refs)s.",
                len(outcome.stale),
                refs=", ".join(outcome.stale),
            ),
            "error",
        )
    if outcome.rejected:
        flash(
            ngettext(
                "%(num)d complaint is not in this team's queue and was left as it is.",
                "%(num)d complaints are not in this team's queue and were left as they are.",
                outcome.rejected,
            ),
            "error",
        )


@bp.get("/team-queue.csv")
@requires(Permission.ASSIGN_COMPLAINTS)
def team_queue_csv() -> Any:
    team, _teams = _chosen_team(request.args.get("team"))
    dialect = request.args.get("dialect") or csv_export.DEFAULT_DIALECT
    if dialect not in csv_export.DIALECTS:
        abort(400)
    args = _filter_args(request.args)
    settings = _settings()
    now = utcnow()
    rows = []
    if team is not None:
        rows = csv_export.export_rows(
            db.session,
            _parse_filter(args, team),
            _parse_sort(args),
            viewer=current_user,
            calendar=settings.calendar,
            now=now,
        )
    body = csv_export.render_csv(rows, dialect=dialect, timezone=settings.timezone)
    day = now.astimezone(ZoneInfo(settings.timezone)).date().isoformat()
    return Response(
        body,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="team-queue-{day}.csv"'},
    )


@bp.get("/dashboard")
@requires(Permission.ASSIGN_COMPLAINTS)
def dashboard() -> Any:
    may_choose = queues.may_choose_team(current_user)
    team, teams = _chosen_team(request.args.get("team"), allow_all=True)
    figures = None
    if team is not None or may_choose:
        settings = _settings()
        figures = dashboard_figures.dashboard(
            db.session, team=team, now=utcnow(), timezone=settings.timezone
        )
    return render_template(
        "complaints/dashboard.html", figures=figures, team=team, teams=teams, bands=queues.AgeBand
    )
