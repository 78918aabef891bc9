# -*- coding: utf-8 -*-
# Copyright: Platykus engineers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's single exception type.

Every module turns a PlatykusError into ``fail_json(msg=str(err))`` in one place, so the
message must read on its own: what failed, the field, and how to fix it.
"""

from __future__ import annotations


class PlatykusError(Exception):
    """A user-facing failure: bad input, an API refusal, or an impossible request."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
