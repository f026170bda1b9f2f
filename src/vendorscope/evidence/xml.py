"""Hostile XML (UPnP descriptions, ONVIF answers) read safely: defusedxml, a size cap, and any
parse failure meaning "not usable"."""

from __future__ import annotations

import re
from typing import Any

import defusedxml.ElementTree as SafeET

XML_CAP = 64 * 1024
MAX_FIELD = 256
_SPACE = re.compile(r"\s+")


def local(tag: Any) -> str:
    """An element's name without its namespace."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def root(data: bytes) -> Any | None:
    try:
        return SafeET.fromstring(data[:XML_CAP])
    except Exception:  # noqa: BLE001 - ParseError, DefusedXmlException, ValueError: all mean "not usable"
        return None


def field_text(value: str) -> str:
    return _SPACE.sub(" ", value.strip())[:MAX_FIELD]
