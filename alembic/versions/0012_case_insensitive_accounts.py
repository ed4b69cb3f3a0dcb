"""Usernames and emails unique whatever their case ("Alice" and "alice" are one account).

Accounts that already collide are not merged or renamed behind anyone's back: the upgrade
refuses and lists them, so the operator renames all but one of each group and runs it again.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLDED = (("username", "uq_users_username_folded"), ("email", "uq_users_email_folded"))


class CaseCollisions(RuntimeError):
    """Existing accounts that would share a username or email once case is ignored."""


def _collisions(column: str) -> list[str]:
    rows = op.get_bind().execute(
        sa.text(
            f"SELECT id, {column} FROM users WHERE lower({column}) IN "  # noqa: S608 (constant)
            f"(SELECT lower({column}) FROM users GROUP BY lower({column}) HAVING count(*) > 1) "
            f"ORDER BY lower({column}), {column}, id"
        )
    )
    return [f"  {column} {value!r} (user id {user_id})" for user_id, value in rows]


def upgrade() -> None:
    found = [line for column, _ in FOLDED for line in _collisions(column)]
    if found:
        raise CaseCollisions(
            "these accounts share a username or email once case is ignored; change the "
            "username or email of all but one account of each group in the users table, then "
            "migrate again:\n" + "\n".join(found)
        )
    for column, name in FOLDED:
        op.create_index(name, "users", [sa.text(f"lower({column})")], unique=True)


def downgrade() -> None:
    for _, name in FOLDED:
        op.drop_index(name, table_name="users")
