"""Translated names of the complaint vocabulary, for pages, mails and messages alike."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from .models import AssignmentStrategy, ResolutionCode, Severity


def severity_labels() -> dict[Severity, object]:
    return {
        Severity.LOW: _l("Low"),
        Severity.MEDIUM: _l("Medium"),
        Severity.HIGH: _l("High"),
        Severity.CRITICAL: _l("Critical"),
    }


def status_labels() -> dict[str, object]:
    return {
        "new": _l("New"),
        "in_progress": _l("In progress"),
        "waiting_on_customer": _l("Waiting on the customer"),
        "resolved": _l("Resolved"),
        "closed": _l("Closed"),
    }


def resolution_labels() -> dict[ResolutionCode, object]:
    return {
        ResolutionCode.REFUND: _l("Refund"),
        ResolutionCode.REPLACEMENT: _l("Replacement"),
        ResolutionCode.REPAIR: _l("Repair"),
        ResolutionCode.CREDIT: _l("Credit note"),
        ResolutionCode.APOLOGY: _l("Apology"),
        ResolutionCode.EXPLANATION: _l("Explanation"),
        ResolutionCode.NO_ACTION: _l("No action needed"),
        ResolutionCode.OTHER: _l("Other"),
    }


def sla_labels() -> dict[str, object]:
    return {"ok": _l("on time"), "at_risk": _l("at risk"), "breached": _l("breached")}


def strategy_labels() -> dict[AssignmentStrategy, object]:
    return {
        AssignmentStrategy.TEAM_QUEUE: _l("Team queue"),
        AssignmentStrategy.ROUND_ROBIN: _l("Round robin"),
        AssignmentStrategy.LEAST_LOADED: _l("Least loaded"),
    }
