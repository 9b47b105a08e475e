"""Queues and the team-lead dashboard: my queue, team queue, CSV export."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("queues", __name__)
