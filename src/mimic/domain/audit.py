"""The audit trail: who did what security-relevant thing, from where, and when."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One recorded event; `details` holds facts for a reader, never a secret.

    `action` is a stable dotted key ("auth.login_failed", "exchange.approved", "panic.run");
    `actor_id` is the user who acted (None for the system or an unknown caller); `target`
    names what was acted on ("user:<id>", "exchange:<id>", ...).
    """

    id: str
    at: datetime
    action: str
    actor_id: str | None = None
    target: str | None = None
    ip: str | None = None
    details: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
