"""Images uploaded by campaigners: checked by their content, stored under the instance folder.

Why the instance folder and not static/: static/ is part of the code and is replaced on
every deploy, while the instance folder holds the platform's data (like the SQLite file).
Files are named by the SHA-256 of their content, so a name never changes meaning, the same
image is stored once, and the route that serves them can let browsers cache them forever.
Several web machines need UPLOAD_DIR on a shared volume (or a synced directory).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from flask import current_app

#: what an image's first bytes must look like, and the extension it is stored with
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
)
MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
#: the prefix of Campaign.image for an uploaded image
MEDIA_PREFIX = "media/"


class InvalidImage(ValueError):
    """The upload is not an image we accept; the message is for the campaigner."""


def sniff_image_type(data: bytes) -> str | None:
    """'png', 'jpg' or 'webp' from the file's content (never from its name), else None."""
    for magic, kind in _SIGNATURES:
        if data.startswith(magic):
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def upload_dir() -> Path:
    return Path(current_app.config.get("UPLOAD_DIR") or Path(current_app.instance_path) / "uploads")


def store_image(data: bytes) -> str:
    """Store an uploaded image; returns the value for Campaign.image ("media/<file>").

    Raises InvalidImage when it is empty, too large or not a PNG, JPEG or WebP image.
    """
    from flask_babel import gettext as _

    limit = current_app.config["MAX_IMAGE_BYTES"]
    if not data:
        raise InvalidImage(_("The file is empty."))
    if len(data) > limit:
        raise InvalidImage(_("The image is too large: at most %(size)s kB.", size=limit // 1024))
    kind = sniff_image_type(data)
    if kind is None:
        raise InvalidImage(_("Upload a PNG, JPEG or WebP image."))
    name = f"{hashlib.sha256(data).hexdigest()[:32]}.{kind}"
    directory = upload_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    if not path.exists():
        draft = directory / f".{name}.part"
        draft.write_bytes(data)
        draft.replace(path)  # atomic: a reader never sees half a file
    return MEDIA_PREFIX + name
