"""The public feedback page behind a link or QR code (/f/<token>): no sign-in.

The language comes from ``?lang=`` (de/en), else the browser, else the default. Abuse:
per-IP rate limit on submissions, a honeypot field, length limits, CSRF like every form.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
from flask_babel import force_locale
from flask_babel import gettext as _

from ..errors import DomainError
from ..extensions import db, limiter, utcnow
from ..web import form_status
from . import links, public
from .forms import PublicFeedbackForm
from .models import FeedbackLink
from .views import feedback_settings

bp = Blueprint("public_feedback", __name__, url_prefix="/f")


def _rate_limit() -> str:
    return str(current_app.config["FEEDBACK_LINK_RATE_LIMIT"])


def _asked_language() -> str | None:
    """The language named in ``?lang=``, if it is one we speak."""
    lang = request.args.get("lang")
    return lang if lang in current_app.config["LANGUAGES"] else None


def _language() -> str:
    match = request.accept_languages.best_match(current_app.config["LANGUAGES"])
    return _asked_language() or match or str(current_app.config["BABEL_DEFAULT_LOCALE"])


@contextmanager
def _page_language() -> Iterator[str]:
    """Customers have no profile: the page speaks the language they asked for."""
    language = _language()
    with force_locale(language):
        yield language


def _active_link(token: str) -> FeedbackLink:
    link = links.find_active_link(db.session, token)
    if link is None:
        abort(404)  # unknown and disabled links look the same
    return link


def _score(value: Any) -> Any:
    """The chosen score as a number; anything else goes to the service as typed."""
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.isdigit() and len(value) <= 3:
        return int(value)
    return value


def _submission(form: PublicFeedbackForm, language: str) -> public.LinkSubmission:
    return public.LinkSubmission(
        score=_score(form.score.data),
        comment=form.comment.data,
        wants_complaint=bool(form.wants_complaint.data),
        contact_consent=bool(form.contact_consent.data),
        name=form.name.data,
        email=form.email.data,
        customer_number=form.customer_number.data,
        language=language,
    )


def _thanks(token: str) -> Any:
    return redirect(url_for("public_feedback.thanks", token=token, lang=_asked_language()))


def _take(link: FeedbackLink, form: PublicFeedbackForm, language: str) -> Any | None:
    """Save a valid submission and answer with the redirect; None: show the form again."""
    if form.homepage.data:
        # A bot filled in the hidden field: answer like a success, keep nothing.
        return _thanks(link.token)
    try:
        outcome = public.submit_link_response(
            db.session,
            link,
            _submission(form, language),
            at=utcnow(),
            settings=feedback_settings(),
        )
    except DomainError as exc:
        db.session.rollback()
        form.add_errors(exc)
        return None
    db.session.commit()
    if outcome.complaint is not None and outcome.complaint.reference:
        flash(
            _(
                "Your complaint has the reference %(ref)s. We will contact you.",
                ref=outcome.complaint.reference,
            ),
            "success",
        )
    return _thanks(link.token)


@bp.route("/<token>", methods=["GET", "POST"])
@limiter.limit(_rate_limit, methods=["POST"])
def respond(token: str) -> Any:
    with _page_language() as language:
        link = _active_link(token)
        form = PublicFeedbackForm()
        form.score.choices = [(str(s), str(s)) for s in link.kind.scores]
        if form.validate_on_submit():
            answer = _take(link, form, language)
            if answer is not None:
                return answer
        return render_template(
            "public/feedback.html",
            link=link,
            form=form,
            language=language,
            lang=_asked_language(),
        ), form_status()


@bp.get("/<token>/thanks")
def thanks(token: str) -> Any:
    with _page_language() as language:
        link = _active_link(token)
        return render_template(
            "public/thanks.html", link=link, language=language, lang=_asked_language()
        )
