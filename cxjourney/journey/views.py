"""Pages of the journey map: the map, touchpoints, stages, transitions."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from ..analytics.touchpoint_kpis import comment_views
from ..analytics.views import touchpoint_summary, window_caption
from ..auth import services as auth_services
from ..auth.forms import ConfirmForm
from ..auth.permissions import Permission, can, login_required, requires
from ..errors import Conflict, ValidationError
from ..extensions import db, utcnow
from ..feedback.services import latest_comments
from ..render_cache import RenderCache, journey_revision
from . import services
from .forms import (
    StageForm,
    StageRenameForm,
    TouchpointForm,
    TransitionForm,
    channel_choices,
    channel_labels,
)
from .map_view import build_map
from .measures import MEASURES, get_measure
from .models import Channel, Touchpoint

bp = Blueprint("journey", __name__)

MAP_CACHE: RenderCache[Markup] = RenderCache(max_entries=64)
LATEST_COMMENTS = 5  # on the touchpoint page


@bp.get("/")
@login_required
def index() -> Any:
    return redirect(url_for("journey.map"))


@bp.get("/journey/")
@requires(Permission.VIEW_JOURNEY)
def map() -> Any:
    measure = get_measure(request.args.get("measure"))

    def render_body() -> Markup:
        journey_map = build_map(db.session, measure)
        return Markup(  # noqa: S704 - a rendered, autoescaped template
            render_template("journey/_map_body.html", journey_map=journey_map, measure=measure)
        )

    # The map is the same for every user: render it once per journey revision (and, for a
    # measure computed from data, per its data token).
    key = (
        journey_revision(db.session),
        measure.key,
        measure.data_token(db.session),
        str(get_locale()),
    )
    body = MAP_CACHE.get_or_create(key, render_body)
    return render_template(
        "journey/map.html", map_body=body, measure=measure, measures=MEASURES.values()
    )


@bp.get("/journey/touchpoints")
@requires(Permission.VIEW_JOURNEY)
def touchpoints() -> Any:
    show_archived = request.args.get("archived") == "1"
    items = services.list_touchpoints(db.session, include_archived=True)
    items = [tp for tp in items if tp.archived == show_archived]
    return render_template(
        "journey/touchpoints.html",
        touchpoints=items,
        show_archived=show_archived,
        channel_labels=channel_labels(),
        confirm_form=ConfirmForm(),
    )


@bp.get("/journey/touchpoints/<key>")
@requires(Permission.VIEW_JOURNEY)
def touchpoint(key: str) -> Any:
    tp = services.get_touchpoint_by_key(db.session, key)
    transitions = services.list_transitions_of(db.session, tp)
    incoming = [t for t in transitions if t.target_id == tp.id]
    outgoing = [t for t in transitions if t.source_id == tp.id]
    transition_form = None
    if not tp.archived:
        transition_form = TransitionForm(source=tp.key)
        _fill_transition_choices(transition_form)
        linked = {t.target.key for t in outgoing} | {tp.key}
        transition_form.target.choices = [
            choice for choice in transition_form.target.choices if choice[0] not in linked
        ]
    summary = comments = None
    if can(current_user, Permission.VIEW_REPORTS):
        zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
        summary = touchpoint_summary(db.session, tp, now=utcnow(), zone=zone)
        comments = comment_views(
            latest_comments(db.session, tp, limit=LATEST_COMMENTS),
            show_personal=can(current_user, Permission.VIEW_PERSONAL_DATA),
        )
    return render_template(
        "journey/touchpoint.html",
        tp=tp,
        incoming=incoming,
        outgoing=outgoing,
        transition_form=transition_form,
        confirm_form=ConfirmForm(),
        channel_labels=channel_labels(),
        summary=summary,
        comments=comments,
        window_caption=(lambda w: window_caption(w, zone)) if summary else None,
    )


def _fill_touchpoint_choices(form: TouchpointForm, tp: Touchpoint | None = None) -> None:
    form.stage.choices = [(s.key, s.name) for s in services.list_stages(db.session)]
    form.channel.choices = channel_choices()
    teams = auth_services.list_teams(db.session, active_only=True)
    if tp is not None and tp.owner_team is not None and tp.owner_team not in teams:
        teams.append(tp.owner_team)  # deactivated, but it is the current value
    form.owner_team.choices = [("", _("— no owner —"))] + [(t.name, t.name) for t in teams]
    managers = [
        u
        for u in auth_services.list_users_for_choice(db.session)
        if can(u, Permission.EDIT_JOURNEY)
    ]
    if tp is not None and tp.manager is not None and tp.manager not in managers:
        managers.append(tp.manager)
    form.manager.choices = [("", _("— nobody —"))] + [
        (u.email, f"{u.name} ({u.email})") for u in managers
    ]


def _touchpoint_input(form: TouchpointForm) -> services.TouchpointInput:
    return services.TouchpointInput(
        key=form.key.data.strip(),
        name=form.name.data,
        stage=services.find_stage_by_key(db.session, form.stage.data),
        description=form.description.data or "",
        channel=Channel(form.channel.data) if form.channel.data else None,
        owner_team=(
            auth_services.find_team_by_name(db.session, form.owner_team.data)
            if form.owner_team.data
            else None
        ),
        manager=(
            auth_services.find_user_by_email(db.session, form.manager.data)
            if form.manager.data
            else None
        ),
        exit=form.exit.data,
    )


@bp.route("/journey/touchpoints/new", methods=["GET", "POST"])
@requires(Permission.EDIT_JOURNEY)
def touchpoint_new() -> Any:
    form = TouchpointForm()
    if request.method == "GET" and request.args.get("stage"):
        form.stage.data = request.args["stage"]
    _fill_touchpoint_choices(form)
    if form.validate_on_submit():
        try:
            tp = services.create_touchpoint(
                db.session, _touchpoint_input(form), actor=current_user, at=utcnow()
            )
        except ValidationError as exc:
            db.session.rollback()
            form.add_errors(exc)
        else:
            db.session.commit()
            flash(_("Touchpoint %(name)s created.", name=tp.name), "success")
            return redirect(url_for("journey.touchpoint", key=tp.key))
    status = 422 if request.method == "POST" else 200
    return render_template("journey/touchpoint_form.html", form=form, tp=None), status


@bp.route("/journey/touchpoints/<key>/edit", methods=["GET", "POST"])
@requires(Permission.EDIT_JOURNEY)
def touchpoint_edit(key: str) -> Any:
    tp = services.get_touchpoint_by_key(db.session, key)
    if tp.archived:
        abort(404)
    form = TouchpointForm(obj=tp)
    if request.method == "GET":
        form.stage.data = tp.stage.key
        form.channel.data = tp.channel.value if tp.channel else ""
        form.owner_team.data = tp.owner_team.name if tp.owner_team else ""
        form.manager.data = tp.manager.email if tp.manager else ""
    _fill_touchpoint_choices(form, tp)
    if form.validate_on_submit():
        try:
            services.update_touchpoint(
                db.session, tp, _touchpoint_input(form), actor=current_user, at=utcnow()
            )
        except ValidationError as exc:
            db.session.rollback()
            form.add_errors(exc)
        else:
            db.session.commit()
            flash(_("Touchpoint %(name)s saved.", name=tp.name), "success")
            return redirect(url_for("journey.touchpoint", key=tp.key))
    status = 422 if request.method == "POST" else 200
    return render_template("journey/touchpoint_form.html", form=form, tp=tp), status


@bp.post("/journey/touchpoints/<key>/archive")
@requires(Permission.EDIT_JOURNEY)
def touchpoint_archive(key: str) -> Any:
    tp = services.get_touchpoint_by_key(db.session, key)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    removed = services.archive_touchpoint(db.session, tp, actor=current_user, at=utcnow())
    db.session.commit()
    flash(
        ngettext(
            "%(name)s archived; %(num)d transition removed.",
            "%(name)s archived; %(num)d transitions removed.",
            removed,
            name=tp.name,
        ),
        "success",
    )
    return redirect(url_for("journey.touchpoint", key=tp.key))


@bp.post("/journey/touchpoints/<key>/restore")
@requires(Permission.EDIT_JOURNEY)
def touchpoint_restore(key: str) -> Any:
    tp = services.get_touchpoint_by_key(db.session, key)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.restore_touchpoint(db.session, tp, actor=current_user, at=utcnow())
    db.session.commit()
    flash(_("%(name)s is back on the map.", name=tp.name), "success")
    return redirect(url_for("journey.touchpoint", key=tp.key))


def _fill_transition_choices(form: TransitionForm) -> None:
    active = services.list_touchpoints(db.session)
    choices = [(tp.key, f"{tp.stage.name} · {tp.name}") for tp in active]
    form.source.choices = choices
    form.target.choices = choices


@bp.post("/journey/transitions")
@requires(Permission.EDIT_JOURNEY)
def transition_create() -> Any:
    form = TransitionForm()
    _fill_transition_choices(form)
    back = request.form.get("back") or form.source.data
    if form.validate_on_submit():
        try:
            services.create_transition(
                db.session,
                source=services.find_touchpoint_by_key(db.session, form.source.data),
                target=services.find_touchpoint_by_key(db.session, form.target.data),
                actor=current_user,
                at=utcnow(),
            )
        except ValidationError as exc:
            db.session.rollback()
            for message in exc.fields.values():
                flash(message, "error")
        else:
            db.session.commit()
            flash(_("Transition added."), "success")
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    if services.find_touchpoint_by_key(db.session, back or "") is not None:
        return redirect(url_for("journey.touchpoint", key=back))
    return redirect(url_for("journey.map"))


@bp.post("/journey/transitions/<int:transition_id>/delete")
@requires(Permission.EDIT_JOURNEY)
def transition_delete(transition_id: int) -> Any:
    transition = services.get_transition(db.session, transition_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    back = request.form.get("back") or transition.source.key
    services.delete_transition(db.session, transition, actor=current_user, at=utcnow())
    db.session.commit()
    flash(_("Transition removed."), "success")
    if services.find_touchpoint_by_key(db.session, back) is not None:
        return redirect(url_for("journey.touchpoint", key=back))
    return redirect(url_for("journey.map"))


def _render_stages(form: StageForm, status: int = 200) -> Any:
    all_stages = services.list_stages(db.session)
    counts = services.count_touchpoints_per_stage(db.session)
    rename_forms = {s.id: StageRenameForm(prefix=f"s{s.id}", name=s.name) for s in all_stages}
    return (
        render_template(
            "journey/stages.html",
            stages=all_stages,
            counts=counts,
            form=form,
            rename_forms=rename_forms,
            confirm_form=ConfirmForm(),
        ),
        status,
    )


@bp.get("/journey/stages")
@requires(Permission.VIEW_JOURNEY)
def stages() -> Any:
    return _render_stages(StageForm(formdata=None))


@bp.post("/journey/stages")
@requires(Permission.EDIT_JOURNEY)
def stage_create() -> Any:
    form = StageForm()
    if form.validate_on_submit():
        try:
            stage = services.create_stage(
                db.session,
                key=form.key.data.strip(),
                name=form.name.data,
                actor=current_user,
                at=utcnow(),
            )
        except ValidationError as exc:
            db.session.rollback()
            form.add_errors(exc)
        else:
            db.session.commit()
            flash(_("Stage %(name)s added.", name=stage.name), "success")
            return redirect(url_for("journey.stages"))
    return _render_stages(form, 422)


@bp.post("/journey/stages/<int:stage_id>/rename")
@requires(Permission.EDIT_JOURNEY)
def stage_rename(stage_id: int) -> Any:
    stage = services.get_stage(db.session, stage_id)
    form = StageRenameForm(prefix=f"s{stage.id}")
    if form.validate_on_submit():
        try:
            services.rename_stage(
                db.session, stage, name=form.name.data, actor=current_user, at=utcnow()
            )
        except ValidationError as exc:
            db.session.rollback()
            for message in exc.fields.values():
                flash(message, "error")
        else:
            db.session.commit()
            flash(_("Stage renamed."), "success")
    else:
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
    return redirect(url_for("journey.stages"))


@bp.post("/journey/stages/<int:stage_id>/move")
@requires(Permission.EDIT_JOURNEY)
def stage_move(stage_id: int) -> Any:
    stage = services.get_stage(db.session, stage_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    offset = -1 if request.form.get("direction") == "up" else 1
    services.move_stage(db.session, stage, offset=offset, actor=current_user, at=utcnow())
    db.session.commit()
    return redirect(url_for("journey.stages", _anchor=f"stage-{stage.key}"))


@bp.post("/journey/stages/<int:stage_id>/delete")
@requires(Permission.EDIT_JOURNEY)
def stage_delete(stage_id: int) -> Any:
    stage = services.get_stage(db.session, stage_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.delete_stage(db.session, stage, actor=current_user, at=utcnow())
    except Conflict as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("Stage deleted."), "success")
    return redirect(url_for("journey.stages"))
