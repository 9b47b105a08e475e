"""Every feature's models in one import, so the mapper and migrations see the whole schema."""

from .audit.models import AuditLog
from .auth.models import ApiToken, Team, User
from .complaints.models import (
    Attachment,
    Category,
    Complaint,
    ComplaintEvent,
    RoutingRule,
    SlaPolicy,
)
from .customers.models import ChurnReason, Customer, CustomerMerge, CustomerValue, JourneyEvent
from .feedback.models import FeedbackLink, FeedbackResponse, SurveyInvitation
from .journey.models import Stage, Touchpoint, Transition
from .notifications.models import OutboxMessage

__all__ = [
    "ApiToken",
    "Attachment",
    "AuditLog",
    "Category",
    "ChurnReason",
    "Complaint",
    "ComplaintEvent",
    "Customer",
    "CustomerMerge",
    "CustomerValue",
    "FeedbackLink",
    "FeedbackResponse",
    "JourneyEvent",
    "OutboxMessage",
    "RoutingRule",
    "SlaPolicy",
    "Stage",
    "SurveyInvitation",
    "Team",
    "Touchpoint",
    "Transition",
    "User",
]
