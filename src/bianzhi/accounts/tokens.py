"""Bearer authentication of the API with personal tokens (``Authorization: Bearer bz_…``).

A valid token authenticates as its user, and ``request.user`` becomes that user, so every
route scopes the answer exactly as it would for the user's own session.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from .services import token_authenticate


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = token_authenticate(token)
        if user is None:
            return None
        request.user = user
        return user
