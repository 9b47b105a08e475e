"""Complaint pages: intake, the complaint with its timeline, and the work on it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("complaints", __name__, url_prefix="/complaints")
