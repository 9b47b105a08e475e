"""The survey page behind the link in the mail after a resolved complaint (/s/<token>).

No sign-in: the unguessable token is the key. The page speaks ``?lang=`` (de/en), else the
customer's language, else the browser's, else the default. An unknown token answers 404; a
survey answered already or expired answers 410 Gone with a friendly page. Abuse guards as on
the public feedback links: CSRF, per-IP rate limit on submissions, a honeypot, length limits.
The complaint's detail page shows the answer (``survey_for`` in every template).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from wtforms import RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from ..complaints.models import Complaint
from ..customers.models import Customer
from ..errors import Conflict, DomainError
from ..extensions import db, limiter, utcnow
from ..web import BaseForm, form_status
from . import survey
from .checks import COMMENT_MAX
from .models import SurveyInvitation
from .views import feedback_settings

bp = Blueprint("survey", __name__, url_prefix="/s")

STATUS_UNKNOWN = 404
STATUS_CLOSED = 410  # Gone: the link existed, and will not take an answer any more


class SurveyForm(BaseForm):
    """What a customer fills in on /s/<token>: CSAT 1–5 and a comment."""

    score = RadioField(
        _l("Your score"),
        choices=[SelectChoice(str(s), str(s)) for s in survey.SURVEY_KIND.scores],
        validators=[Optional()],
        validate_choice=False,
    )
    comment = TextAreaField(
        _l("Anything you would like to tell us?"),
        validators=[Optional(), Length(max=COMMENT_MAX)],
    )
    # The honeypot: hidden from people, filled in by bots.
    homepage = StringField(_l("Leave this field empty"), validators=[Optional()])


def _rate_limit() -> str:
    return str(current_app.config["FEEDBACK_LINK_RATE_LIMIT"])


def _asked_language() -> str | None:
    lang = request.args.get("lang")
    return lang if lang in current_app.config["LANGUAGES"] else None


@contextmanager
def _page_language(invitation: SurveyInvitation | None) -> Iterator[str]:
    """The language asked for, else the customer's (the mail's), else the browser's."""
    languages = current_app.config["LANGUAGES"]
    customer = db.session.get(Customer, invitation.customer_id) if invitation else None
    own = customer.language if customer is not None else None
    language = (
        _asked_language()
        or (own if own in languages else None)
        or request.accept_languages.best_match(languages)
        or str(current_app.config["BABEL_DEFAULT_LOCALE"])
    )
    with force_locale(language):
        yield language


def _page(template: str, token: str, language: str, status: int = 200, **context: Any) -> Any:
    # The public layout's language switch links to ``link.token`` on the same endpoint.
    return render_template(
        template,
        link={"token": token},
        language=language,
        lang=_asked_language(),
        **context,
    ), status


def _closed(token: str, language: str, state: survey.InvitationState | None) -> Any:
    status = STATUS_UNKNOWN if state is None else STATUS_CLOSED
    return _page("public/survey_closed.html", token, language, status, state=state)


def _score(value: Any) -> Any:
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.isdigit() and len(value) <= 3:
        return int(value)
    return value


def _thanks(token: str) -> Any:
    return redirect(url_for("survey.thanks", token=token, lang=_asked_language()))


@bp.route("/<token>", methods=["GET", "POST"])
@limiter.limit(_rate_limit, methods=["POST"])
def respond(token: str) -> Any:
    invitation = survey.find_invitation(db.session, token)
    with _page_language(invitation) as language:
        if invitation is None:
            return _closed(token, language, None)
        state = survey.state_of(invitation, utcnow())
        if state is not survey.InvitationState.OPEN:
            return _closed(token, language, state)
        form = SurveyForm()
        if form.validate_on_submit():
            if form.homepage.data:
                return _thanks(token)  # a bot filled in the hidden field: keep nothing
            try:
                survey.answer_survey(
                    db.session,
                    invitation,
                    survey.SurveySubmission(_score(form.score.data), form.comment.data),
                    at=utcnow(),
                    settings=feedback_settings(),
                )
            except DomainError as exc:
                db.session.rollback()
                if isinstance(exc, Conflict):  # answered a moment ago in another request
                    return _closed(token, language, survey.InvitationState.ANSWERED)
                form.add_errors(exc)
            else:
                db.session.commit()
                return _thanks(token)
        complaint = (
            db.session.get(Complaint, invitation.complaint_id) if invitation.complaint_id else None
        )
        return _page(
            "public/survey.html",
            token,
            language,
            form_status(),
            form=form,
            reference=complaint.reference if complaint is not None else "",
        )


@bp.get("/<token>/thanks")
def thanks(token: str) -> Any:
    invitation = survey.find_invitation(db.session, token)
    with _page_language(invitation) as language:
        if invitation is None:
            return _closed(token, language, None)
        return _page("public/thanks.html", token, language)


@bp.app_context_processor
def _survey_helpers() -> dict[str, Any]:
    def survey_for(complaint: Complaint) -> survey.SurveyAnswer | None:
        """The complaint's survey and answer, for its detail page."""
        return survey.find_survey_answer(db.session, complaint, at=utcnow())

    return {"survey_for": survey_for}
