"""Feedback pages for staff: record an answer, and read the answers with filters."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..auth.permissions import Permission, can, requires
from ..extensions import db, utcnow
from ..journey import services as journey_services
from ..journey.forms import channel_labels
from ..journey.models import Channel, Touchpoint
from ..web import form_status, save_form
from . import services
from .checks import parse_kind
from .forms import FeedbackForm, kind_choices, kind_labels
from .models import FeedbackKind, FeedbackSource

bp = Blueprint("feedback", __name__, url_prefix="/feedback")

MAX_PAGE = 10_000


def feedback_settings() -> services.FeedbackSettings:
    return services.FeedbackSettings.from_config(current_app.config)


def touchpoint_choices(touchpoints: list[Touchpoint]) -> dict[str, list[tuple[str, str]]]:
    """Touchpoints grouped by stage (in journey order) for a select with optgroups."""
    grouped: dict[str, list[tuple[str, str]]] = {}
    for tp in touchpoints:
        grouped.setdefault(tp.stage.name, []).append((tp.key, tp.name))
    return {"": [("", _("— choose —"))], **grouped}


def channel_choices() -> list[tuple[str, str]]:
    labels = channel_labels()
    return [("", _("— choose —"))] + [(c.value, str(labels[c])) for c in Channel]


def _fill_choices(form: FeedbackForm) -> None:
    touchpoints = journey_services.list_touchpoints(db.session)
    form.touchpoint.choices = touchpoint_choices(touchpoints)  # type: ignore[assignment]
    form.kind.choices = kind_choices()
    form.channel.choices = channel_choices()


def _input(form: FeedbackForm) -> services.FeedbackInput:
    return services.FeedbackInput(
        touchpoint=form.touchpoint.data,
        kind=form.kind.data,
        score=form.score.data,
        channel=form.channel.data,
        comment=form.comment.data,
        customer_ref=(form.customer_ref.data or "").strip() or None,
        contact_consent=bool(form.contact_consent.data),
        source=FeedbackSource.AGENT,
    )


def _report(recorded: services.RecordedFeedback) -> None:
    follow_up = recorded.follow_up
    if follow_up is not None:
        flash(
            _(
                "Feedback saved. Follow-up complaint %(ref)s opened for %(team)s.",
                ref=follow_up.reference,
                team=follow_up.team.name,
            ),
            "success",
        )
    elif recorded.follow_up_problem is not None:
        flash(
            _(
                "Feedback saved, but no follow-up complaint could be opened: %(problem)s",
                problem=recorded.follow_up_problem,
            ),
            "error",
        )
    else:
        flash(_("Feedback saved."), "success")


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.RECORD_FEEDBACK)
def new() -> Any:
    form = FeedbackForm()
    _fill_choices(form)
    if request.method == "GET":
        form.kind.data = request.args.get("kind") or FeedbackKind.NPS.value
        form.touchpoint.data = request.args.get("touchpoint") or ""
    recorded = save_form(
        form,
        lambda: services.record_feedback(
            db.session,
            _input(form),
            actor=current_user,
            at=utcnow(),
            settings=feedback_settings(),
        ),
    )
    if recorded is not None:
        _report(recorded)
        # Agents often record several answers in a row: back to an empty form.
        return redirect(url_for("feedback.new", kind=form.kind.data))
    return render_template("feedback/new.html", form=form), form_status()


# --- the list ------------------------------------------------------------------------------


def _day(value: str | None) -> date | None:
    if not value or len(value) > 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _start_of(day: date) -> datetime:
    return datetime.combine(
        day, time(0, 0), tzinfo=ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    )


def _filter_from_args(
    touchpoints: list[Touchpoint],
) -> tuple[services.FeedbackFilter, dict[str, Any]]:
    """The filter the query string asks for; values that name nothing are left out."""
    by_key = {tp.key: tp for tp in touchpoints}
    touchpoint = by_key.get(request.args.get("touchpoint") or "")
    kind = parse_kind(request.args.get("kind"))
    since, until = _day(request.args.get("from")), _day(request.args.get("to"))
    chosen = {
        "touchpoint": touchpoint.key if touchpoint else "",
        "kind": kind.value if kind else "",
        "from": since.isoformat() if since else "",
        "to": until.isoformat() if until else "",
    }
    where = services.FeedbackFilter(
        touchpoint=touchpoint,
        kind=kind,
        since=_start_of(since) if since else None,
        # The "to" day is included: the list ends at the start of the day after it.
        until=_start_of(until + timedelta(days=1)) if until and until < date.max else None,
    )
    return where, chosen


@bp.get("/")
@requires(Permission.VIEW_REPORTS)
def index() -> Any:
    touchpoints = journey_services.list_touchpoints(db.session, include_archived=True)
    where, chosen = _filter_from_args(touchpoints)
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    result = services.list_feedback(db.session, where, page=page)
    return render_template(
        "feedback/list.html",
        result=result,
        chosen=chosen,
        touchpoints=touchpoints,
        kinds=kind_choices(),
        kind_labels={k.value: str(v) for k, v in kind_labels().items()},
        channel_labels={c.value: str(label) for c, label in channel_labels().items()},
        references=services.follow_up_references(db.session, result.items),
        hidden=services.comments_hidden_from(db.session, current_user, result.items),
        show_personal=can(current_user, Permission.VIEW_PERSONAL_DATA),
        show_complaints=can(current_user, Permission.VIEW_COMPLAINTS),
    )
