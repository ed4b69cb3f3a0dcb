"""Single-use, expiring password reset codes (only their hash is stored)."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True)
class PasswordResetToken:
    id: str
    user_id: str
    token_hash: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    def usable_at(self, moment: datetime) -> bool:
        return self.used_at is None and moment < self.expires_at
