"""Admin pages for complaints: routing rules (with a preview), categories, SLA policies."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ..auth import services as auth_services
from ..auth.models import Team, User
from ..auth.permissions import Permission, requires
from ..errors import Conflict
from ..extensions import db, utcnow
from ..journey import services as journey
from ..journey.models import Channel, Stage, Touchpoint
from ..web import form_status, save_form
from . import categories, routing, sla_policies
from .admin_forms import (
    CategoryEditForm,
    CategoryForm,
    RoutingPreviewForm,
    RoutingRuleForm,
    SlaPolicyForm,
    channel_select_choices,
    rule_conditions,
    severity_choices,
    severity_labels,
    strategy_choices,
    strategy_labels,
)
from .models import AssignmentStrategy, Category, RoutingRule, Severity, SlaPolicy

bp = Blueprint("complaint_admin", __name__, url_prefix="/admin")


# --- choices --------------------------------------------------------------------------------


def _touchpoint_choices(blank: str, current: Touchpoint | None = None) -> list[SelectChoice]:
    """Touchpoints grouped by stage in journey order; an archived current one stays listed."""
    touchpoints = journey.list_touchpoints(db.session)
    if current is not None and current.archived:
        touchpoints.append(current)
    choices = [SelectChoice("", blank)]
    for tp in touchpoints:
        label = tp.name if not tp.archived else _("%(name)s (archived)", name=tp.name)
        choices.append(SelectChoice(tp.key, label, optgroup=tp.stage.name))
    return choices


def _stage_choices(blank: str) -> list[SelectChoice]:
    return [SelectChoice("", blank)] + [
        SelectChoice(s.key, s.name) for s in journey.list_stages(db.session)
    ]


def _category_choices(blank: str, current: Category | None = None) -> list[SelectChoice]:
    choices = [SelectChoice("", blank)]
    for category in categories.list_categories(db.session):
        if category.active or category == current:
            label = (
                category.name if category.active else _("%(name)s (inactive)", name=category.name)
            )
            choices.append(SelectChoice(category.key, label))
    return choices


def _team_choices(current: Team | None = None) -> list[SelectChoice]:
    teams = [t for t in auth_services.list_teams(db.session) if t.active or t is current]
    choices = [SelectChoice("", _("— choose a team —"))]
    for team in teams:
        label = team.name if team.active else _("%(name)s (deactivated)", name=team.name)
        choices.append(SelectChoice(str(team.id), label))
    return choices


def _person_choices(current: User | None = None) -> list[SelectChoice]:
    """Active people with a team, grouped by team (a rule's person must be in its team)."""
    people = [u for u in auth_services.list_users_for_choice(db.session) if u.team is not None]
    if current is not None and current not in people and current.team is not None:
        people.append(current)
    people.sort(key=lambda u: (u.team.name.casefold(), u.name.casefold(), u.id))
    choices = [SelectChoice("", _("— nobody: use the assignment strategy —"))]
    for team_name, members in groupby(people, key=lambda u: u.team.name):
        choices.extend(
            SelectChoice(str(u.id), f"{u.name} ({u.email})", optgroup=team_name) for u in members
        )
    return choices


def _lookup_touchpoint(key: str | None) -> Touchpoint | None:
    return journey.find_touchpoint_by_key(db.session, key) if key else None


def _lookup_stage(key: str | None) -> Stage | None:
    return journey.find_stage_by_key(db.session, key) if key else None


def _lookup_category(key: str | None) -> Category | None:
    return categories.find_category(db.session, key) if key else None


# --- routing rules --------------------------------------------------------------------------


def _rule_form(rule: RoutingRule | None) -> RoutingRuleForm:
    data: dict[str, Any] = {}
    if rule is not None:
        data = {
            "name": rule.name,
            "priority": rule.priority,
            "active": rule.active,
            "touchpoint": rule.touchpoint.key if rule.touchpoint else "",
            "stage": rule.stage.key if rule.stage else "",
            "category": rule.category.key if rule.category else "",
            "channel": rule.channel.value if rule.channel else "",
            "min_severity": rule.min_severity.value if rule.min_severity else "",
            "segment": rule.segment or "",
            "team": str(rule.team_id),
            "user": str(rule.user_id) if rule.user_id else "",
            "strategy": rule.strategy.value,
        }
    else:
        rules = routing.list_rules(db.session)
        data = {"priority": (max((r.priority for r in rules), default=0) // 10 + 1) * 10}
    form = RoutingRuleForm(data=data)
    any_ = _("— any —")
    form.touchpoint.choices = _touchpoint_choices(any_, rule.touchpoint if rule else None)
    form.stage.choices = _stage_choices(any_)
    form.category.choices = _category_choices(any_, rule.category if rule else None)
    form.channel.choices = channel_select_choices(any_)
    form.min_severity.choices = severity_choices(any_)
    form.team.choices = _team_choices(rule.team if rule else None)
    form.user.choices = _person_choices(rule.user if rule else None)
    form.strategy.choices = strategy_choices()
    return form


def _rule_input(form: RoutingRuleForm) -> routing.RuleInput:
    stage = _lookup_stage(form.stage.data)
    return routing.RuleInput(
        name=form.name.data,
        priority=form.priority.data,
        team=db.session.get(Team, int(form.team.data)),
        active=form.active.data,
        touchpoint=_lookup_touchpoint(form.touchpoint.data),
        stage_id=stage.id if stage is not None else None,
        category=_lookup_category(form.category.data),
        channel=Channel(form.channel.data) if form.channel.data else None,
        min_severity=Severity(form.min_severity.data) if form.min_severity.data else None,
        segment=(form.segment.data or "").strip() or None,
        user=db.session.get(User, int(form.user.data)) if form.user.data else None,
        strategy=AssignmentStrategy(form.strategy.data),
    )


def _preview_form() -> RoutingPreviewForm:
    form = RoutingPreviewForm(formdata=request.args if request.args else None)
    form.touchpoint.choices = _touchpoint_choices(_("— choose a touchpoint —"))
    form.category.choices = _category_choices(_("— none —"))
    form.channel.choices = channel_select_choices()
    form.severity.choices = severity_choices()
    return form


def _render_rules(
    preview: RoutingPreviewForm,
    *,
    previewed: bool = False,
    decision: routing.RoutingDecision | None = None,
    conflict: str | None = None,
) -> str:
    return render_template(
        "admin/routing_rules.html",
        rules=routing.list_rules(db.session),
        rule_conditions=rule_conditions,
        strategy_labels=strategy_labels(),
        preview=preview,
        previewed=previewed,
        decision=decision,
        conflict=conflict,
        triage_team=current_app.config.get("TRIAGE_TEAM"),
    )


@bp.get("/routing-rules")
@requires(Permission.MANAGE_ROUTING)
def routing_rules() -> Any:
    return _render_rules(_preview_form())


@bp.get("/routing-rules/preview")
@requires(Permission.MANAGE_ROUTING)
def routing_preview() -> Any:
    """Where a complaint with these attributes would go; takes nobody's turn, saves nothing."""
    form = _preview_form()
    if not request.args:
        return _render_rules(form)
    if not form.validate():
        return _render_rules(form), 422
    attrs = routing.RoutingInput(
        touchpoint=_lookup_touchpoint(form.touchpoint.data),  # type: ignore[arg-type]
        category=_lookup_category(form.category.data),
        channel=Channel(form.channel.data),
        severity=Severity(form.severity.data),
        segment=(form.segment.data or "").strip() or None,
    )
    try:
        decision = routing.decide(
            db.session,
            attrs,
            triage_team=current_app.config["TRIAGE_TEAM"],
            commit_turn=False,
        )
    except Conflict as exc:
        return _render_rules(form, previewed=True, conflict=exc.message)
    return _render_rules(form, previewed=True, decision=decision)


@bp.route("/routing-rules/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_ROUTING)
def routing_rule_new() -> Any:
    form = _rule_form(None)
    if (
        rule := save_form(
            form,
            lambda: routing.save_rule(
                db.session, None, _rule_input(form), actor=current_user, at=utcnow()
            ),
        )
    ) is not None:
        flash(_("Routing rule %(name)s created.", name=rule.name), "success")
        return redirect(url_for("complaint_admin.routing_rules"))
    return render_template("admin/routing_rule_form.html", form=form, rule=None), form_status()


@bp.route("/routing-rules/<int:rule_id>", methods=["GET", "POST"])
@requires(Permission.MANAGE_ROUTING)
def routing_rule_edit(rule_id: int) -> Any:
    rule = routing.get_rule(db.session, rule_id)
    form = _rule_form(rule)
    if (
        save_form(
            form,
            lambda: routing.save_rule(
                db.session, rule, _rule_input(form), actor=current_user, at=utcnow()
            ),
        )
        is not None
    ):
        flash(_("Routing rule %(name)s saved.", name=rule.name), "success")
        return redirect(url_for("complaint_admin.routing_rules"))
    return render_template("admin/routing_rule_form.html", form=form, rule=rule), form_status()


# --- categories -----------------------------------------------------------------------------


def _render_categories(form: CategoryForm) -> str:
    return render_template(
        "admin/categories.html", categories=categories.list_categories(db.session), form=form
    )


@bp.get("/categories")
@requires(Permission.MANAGE_CATALOGUES)
def categories_list() -> Any:
    return _render_categories(CategoryForm())


@bp.post("/categories")
@requires(Permission.MANAGE_CATALOGUES)
def category_create() -> Any:
    form = CategoryForm()
    if (
        category := save_form(
            form,
            lambda: categories.create_category(
                db.session,
                key=form.key.data.strip(),
                name=form.name.data,
                actor=current_user,
                at=utcnow(),
            ),
        )
    ) is not None:
        flash(_("Category %(name)s created.", name=category.name), "success")
        return redirect(url_for("complaint_admin.categories_list"))
    return _render_categories(form), 422


@bp.route("/categories/<int:category_id>", methods=["GET", "POST"])
@requires(Permission.MANAGE_CATALOGUES)
def category_edit(category_id: int) -> Any:
    category = categories.get_category(db.session, category_id)
    form = CategoryEditForm(data={"name": category.name, "active": category.active})
    if (
        save_form(
            form,
            lambda: categories.update_category(
                db.session,
                category,
                name=form.name.data,
                active=form.active.data,
                actor=current_user,
                at=utcnow(),
            ),
        )
        is not None
    ):
        flash(_("Category %(name)s saved.", name=category.name), "success")
        return redirect(url_for("complaint_admin.categories_list"))
    return render_template("admin/category_form.html", form=form, category=category), form_status()


# --- SLA policies ---------------------------------------------------------------------------


def _policy_form(policy: SlaPolicy | None) -> SlaPolicyForm:
    data: dict[str, Any] = {}
    if policy is not None:
        data = {
            "name": policy.name,
            "severity": policy.severity.value,
            "touchpoint": policy.touchpoint.key if policy.touchpoint else "",
            "stage": policy.stage.key if policy.stage else "",
            "segment": policy.segment or "",
            "first_response_minutes": policy.first_response_minutes,
            "next_update_minutes": policy.next_update_minutes,
            "resolution_minutes": policy.resolution_minutes,
            "business_hours": policy.business_hours,
            "warning_percent": policy.warning_percent,
            "active": policy.active,
        }
    form = SlaPolicyForm(data=data)
    any_ = _("— any —")
    form.severity.choices = severity_choices(_("— choose —"))
    form.touchpoint.choices = _touchpoint_choices(any_, policy.touchpoint if policy else None)
    form.stage.choices = _stage_choices(any_)
    return form


def _policy_input(form: SlaPolicyForm) -> sla_policies.PolicyInput:
    return sla_policies.PolicyInput(
        name=form.name.data,
        severity=Severity(form.severity.data) if form.severity.data else None,
        touchpoint=_lookup_touchpoint(form.touchpoint.data),
        stage=_lookup_stage(form.stage.data),
        segment=form.segment.data or None,
        first_response_minutes=form.first_response_minutes.data,
        next_update_minutes=form.next_update_minutes.data,
        resolution_minutes=form.resolution_minutes.data,
        business_hours=form.business_hours.data,
        warning_percent=form.warning_percent.data,
        active=form.active.data,
    )


@bp.get("/sla-policies")
@requires(Permission.MANAGE_SLA)
def sla_policies_list() -> Any:
    return render_template(
        "admin/sla_policies.html",
        policies=sla_policies.list_policies(db.session),
        severity_labels=severity_labels(),
    )


@bp.route("/sla-policies/new", methods=["GET", "POST"])
@requires(Permission.MANAGE_SLA)
def sla_policy_new() -> Any:
    form = _policy_form(None)
    if (
        policy := save_form(
            form,
            lambda: sla_policies.save_policy(
                db.session, None, _policy_input(form), actor=current_user, at=utcnow()
            ),
        )
    ) is not None:
        flash(_("SLA policy %(name)s created.", name=policy.name), "success")
        return redirect(url_for("complaint_admin.sla_policies_list"))
    return render_template("admin/sla_policy_form.html", form=form, policy=None), form_status()


@bp.route("/sla-policies/<int:policy_id>", methods=["GET", "POST"])
@requires(Permission.MANAGE_SLA)
def sla_policy_edit(policy_id: int) -> Any:
    policy = sla_policies.get_policy(db.session, policy_id)
    form = _policy_form(policy)
    if (
        save_form(
            form,
            lambda: sla_policies.save_policy(
                db.session, policy, _policy_input(form), actor=current_user, at=utcnow()
            ),
        )
        is not None
    ):
        flash(_("SLA policy %(name)s saved.", name=policy.name), "success")
        return redirect(url_for("complaint_admin.sla_policies_list"))
    return render_template("admin/sla_policy_form.html", form=form, policy=policy), form_status()
