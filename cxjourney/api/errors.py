"""The API's error shape, documented for OpenAPI.

Errors themselves are answered by ``web.py`` (one handler for HTTP and domain errors that
answers JSON under /api and HTML elsewhere), so pages and endpoints cannot drift apart.
"""

from __future__ import annotations

import marshmallow as ma


class ErrorDetailSchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "Machine-readable error code"})
    message = ma.fields.String(metadata={"description": "Human-readable message"})
    fields = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        metadata={"description": "Problem per field or JSON path (e.g. touchpoints[3].stage)"},
    )


class ErrorSchema(ma.Schema):
    error = ma.fields.Nested(ErrorDetailSchema)
