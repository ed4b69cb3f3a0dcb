"""Unlink Telegram groups, supergroups and channels: only private chats may be linked.

Until now `/start <code>` in a group linked the group, whose every member then read the
user's notifications (and could command the account). Their chat ids are negative; a
person's private chat has the person's (positive) id. Those users link their private chat
again; their notifications meanwhile go by email where they chose it. Not reversible: the
unlinked groups are not linked again on a downgrade.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 00:00:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

links = sa.table("telegram_links", sa.column("user_id"), sa.column("chat_id"))
NOT_PRIVATE = links.c.chat_id.like("-%")


def upgrade() -> None:
    bind = op.get_bind()
    users = list(bind.execute(sa.select(links.c.user_id).where(NOT_PRIVATE)).scalars())
    if users:
        bind.execute(sa.delete(links).where(NOT_PRIVATE))
        log.warning(
            "unlinked the Telegram group or channel of %d user(s): %s", len(users), ", ".join(users)
        )


def downgrade() -> None:
    """Nothing to undo: the schema did not change."""
