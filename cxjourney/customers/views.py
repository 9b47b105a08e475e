"""Customer pages: search and the customer with contact data and complaints."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("customers", __name__, url_prefix="/customers")
