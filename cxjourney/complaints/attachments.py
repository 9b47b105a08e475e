"""Attachments: scanned letters, photos and PDFs, checked by content, stored outside the DB."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import filetype  # type: ignore[import-untyped]
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..errors import NotFound, ValidationError
from .models import Attachment, Complaint, EventKind
from .services import record_event

# What a complaint may carry, by the type its bytes show (never by name or claim).
ALLOWED_TYPES = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/tiff": "tif",
    "image/heic": "heic",
}
# What a file name or a browser may claim, and the detected types that may back the claim.
CLAIMS = {
    ".pdf": {"application/pdf"},
    ".jpg": {"image/jpeg"},
    ".jpeg": {"image/jpeg"},
    ".png": {"image/png"},
    ".tif": {"image/tiff"},
    ".tiff": {"image/tiff"},
    ".heic": {"image/heic"},
}


@dataclass(frozen=True)
class Storage:
    directory: Path
    max_bytes: int


def _claimed(filename: str, content_type: str | None) -> set[str] | None:
    """The types the upload claims to be (by extension, else by its declared type)."""
    suffix = Path(filename).suffix.lower()
    if suffix in CLAIMS:
        return CLAIMS[suffix]
    if content_type and content_type.split(";")[0].strip().lower() in ALLOWED_TYPES:
        return {content_type.split(";")[0].strip().lower()}
    return None


def _clean_name(filename: str) -> str:
    name = Path(filename.replace("\\", "/")).name.strip().replace("\x00", "")
    return (name or "attachment")[:255]


def add_attachment(
    session: Session,
    complaint: Complaint,
    *,
    filename: str,
    stream: BinaryIO,
    content_type: str | None,
    actor: User | None,
    at: datetime,
    storage: Storage,
) -> Attachment:
    """Store an uploaded file for the complaint.

    Raises ValidationError (field ``attachments``) when it is too large, empty, not a PDF
    or image by its content, or claims to be something its content is not.
    """
    data = stream.read(storage.max_bytes + 1)
    name = _clean_name(filename)
    if len(data) > storage.max_bytes:
        raise ValidationError(
            {
                "attachments": str(
                    _l(
                        "%(name)s is larger than %(mb)d MB.",
                        name=name,
                        mb=storage.max_bytes // 1_000_000,
                    )
                )
            }
        )
    if not data:
        raise ValidationError({"attachments": str(_l("%(name)s is empty.", name=name))})
    kind = filetype.guess(data)
    detected = kind.mime if kind is not None else None
    if detected not in ALLOWED_TYPES:
        raise ValidationError(
            {
                "attachments": str(
                    _l("%(name)s is not a PDF or a photo (JPEG, PNG, TIFF, HEIC).", name=name)
                )
            }
        )
    claimed = _claimed(name, content_type)
    if claimed is not None and detected not in claimed:
        raise ValidationError(
            {
                "attachments": str(
                    _l("%(name)s claims to be another type than its content is.", name=name)
                )
            }
        )
    storage.directory.mkdir(parents=True, exist_ok=True)
    storage_name = f"{secrets.token_hex(16)}.{ALLOWED_TYPES[detected]}"
    (storage.directory / storage_name).write_bytes(data)
    attachment = Attachment(
        complaint_id=complaint.id,
        filename=name,
        content_type=detected,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_name=storage_name,
        uploaded_at=at,
        uploaded_by_id=actor.id if actor else None,
    )
    session.add(attachment)
    session.flush()
    record_event(
        session,
        complaint,
        EventKind.ATTACHMENT_ADDED,
        actor=actor,
        at=at,
        data={"attachment_id": attachment.id, "filename": name, "size_bytes": len(data)},
    )
    complaint.updated_at = at
    return attachment


def list_attachments(session: Session, complaint: Complaint) -> list[Attachment]:
    return list(
        session.scalars(
            select(Attachment)
            .where(Attachment.complaint_id == complaint.id)
            .order_by(Attachment.id)
        )
    )


def get_attachment(session: Session, complaint: Complaint, attachment_id: int) -> Attachment:
    """The complaint's attachment; an id of another complaint is NotFound."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.complaint_id != complaint.id:
        raise NotFound(str(_l("No such attachment.")))
    return attachment


def stored_path(storage: Storage, attachment: Attachment) -> Path:
    path = (storage.directory / attachment.storage_name).resolve()
    if path.parent != storage.directory.resolve() or not path.is_file():
        raise NotFound(str(_l("No such attachment.")))
    return path
