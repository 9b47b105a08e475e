"""Admin pages for public feedback links: list, create, disable, enable, print with QR code."""

from __future__ import annotations

from typing import Any

import segno
from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from ..auth.permissions import Permission, requires
from ..extensions import db, utcnow
from ..journey import services as journey_services
from ..web import form_status, save_form
from . import links
from .forms import LinkForm, kind_choices
from .models import FeedbackLink
from .views import touchpoint_choices

bp = Blueprint("feedback_links", __name__, url_prefix="/admin/feedback-links")


def public_url(link: FeedbackLink) -> str:
    """The address customers use: the configured base URL, never the admin's host name."""
    path = url_for("public_feedback.respond", token=link.token)
    return str(current_app.config["BASE_URL"]).rstrip("/") + path


def qr_svg(url: str) -> Markup:
    """The URL as a QR code in inline SVG (segno's output: no scripts, no styles)."""
    code = segno.make(url, error="m")
    svg = code.svg_inline(scale=8, border=4, omitsize=True, svgclass="qr-code", lineclass="qr-line")
    return Markup(svg)  # noqa: S704 - generated from our own URL, not typed text


def _form() -> LinkForm:
    form = LinkForm()
    form.touchpoint.choices = touchpoint_choices(  # type: ignore[assignment]
        journey_services.list_touchpoints(db.session)
    )
    form.kind.choices = kind_choices()
    return form


@bp.route("/", methods=["GET", "POST"])
@requires(Permission.MANAGE_FEEDBACK_LINKS)
def index() -> Any:
    form = _form()
    link = save_form(
        form,
        lambda: links.create_link(
            db.session,
            touchpoint_key=form.touchpoint.data or "",
            kind=form.kind.data or "",
            label=form.label.data or "",
            actor=current_user,
            at=utcnow(),
        ),
    )
    if link is not None:
        flash(_("Feedback link %(label)s created.", label=link.label), "success")
        return redirect(url_for("feedback_links.detail", link_id=link.id))
    return (
        render_template(
            "feedback/links.html",
            form=form,
            links=links.list_links(db.session),
            counts=links.answer_counts(db.session),
            public_url=public_url,
        ),
        form_status(),
    )


@bp.get("/<int:link_id>")
@requires(Permission.MANAGE_FEEDBACK_LINKS)
def detail(link_id: int) -> Any:
    """The printable page: the QR code, the address, the touchpoint and the question."""
    link = links.get_link(db.session, link_id)
    url = public_url(link)
    return render_template("feedback/link_print.html", link=link, url=url, qr=qr_svg(url))


def _set_active(link_id: int, active: bool) -> Any:
    link = links.get_link(db.session, link_id)
    links.set_link_active(db.session, link, active=active, actor=current_user, at=utcnow())
    db.session.commit()
    if active:
        flash(_("Feedback link %(label)s enabled.", label=link.label), "success")
    else:
        flash(_("Feedback link %(label)s disabled.", label=link.label), "success")
    return redirect(url_for("feedback_links.index"))


@bp.post("/<int:link_id>/disable")
@requires(Permission.MANAGE_FEEDBACK_LINKS)
def disable(link_id: int) -> Any:
    return _set_active(link_id, False)


@bp.post("/<int:link_id>/enable")
@requires(Permission.MANAGE_FEEDBACK_LINKS)
def enable(link_id: int) -> Any:
    return _set_active(link_id, True)
