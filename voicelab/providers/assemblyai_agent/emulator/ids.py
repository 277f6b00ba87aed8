"""Ids of what an emulated agent session creates: conversation items (``item_…``) and replies (``reply_…``)."""

from __future__ import annotations

import secrets

__all__ = ["new_id"]


def new_id(prefix: str) -> str:
    """A fresh random id: `prefix`, an underscore and 24 hex digits (``item_3f9c…``)."""
    return f"{prefix}_{secrets.token_hex(12)}"
