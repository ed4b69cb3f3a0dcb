"""Schemathesis hooks for test_api_contract.py (loaded through SCHEMATHESIS_HOOKS).

Admin routes are called with the admin's token, the others with a follower's. Signing out
revokes every token of the user, so each sign-out signs a new user up and in first (a user
the run had known could be locked by then: the fuzzer tries names it has seen).
"""

import os
import uuid

import httpx
import schemathesis

ADMIN_PREFIX = "/api/admin"
ADMIN_ONLY_ELSEWHERE = frozenset({"/api/signals"})
SIGN_OUT = "/api/auth/logout"


@schemathesis.auth()
class MimicTokens:
    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> dict[str, str]:
        return {
            "admin": os.environ["CONTRACT_ADMIN_TOKEN"],
            "user": os.environ["CONTRACT_USER_TOKEN"],
        }

    def set(
        self, case: schemathesis.Case, data: dict[str, str], ctx: schemathesis.AuthContext
    ) -> None:
        path = ctx.operation.path
        if path == SIGN_OUT:
            token = _fresh_sign_out_token()
        elif path.startswith(ADMIN_PREFIX) or path in ADMIN_ONLY_ELSEWHERE:
            token = data["admin"]
        else:
            token = data["user"]
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


def _fresh_sign_out_token() -> str:
    base_url, password = os.environ["CONTRACT_BASE_URL"], os.environ["CONTRACT_PASSWORD"]
    username = f"leaver-{uuid.uuid4().hex[:12]}"
    with httpx.Client(base_url=base_url, timeout=10) as client:
        client.post(
            "/api/auth/register",
            json={"username": username, "email": f"{username}@example.com", "password": password},
        ).raise_for_status()
        response = client.post("/api/auth/login", json={"username": username, "password": password})
        response.raise_for_status()
    return str(response.json()["access_token"])
