"""Password reset codes on SQLAlchemy Core."""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.tables import password_reset_tokens
from mimic.domain.errors import Conflict
from mimic.domain.password_reset import PasswordResetToken
from mimic.ports.accounts import PasswordResetTokens


class SqlPasswordResetTokens(PasswordResetTokens):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, token: PasswordResetToken) -> None:
        """A code that exists already is a Conflict, as in every repository (not a driver's
        IntegrityError); the transaction is rolled back with it."""
        try:
            await self._session.execute(
                password_reset_tokens.insert().values(
                    id=token.id,
                    user_id=token.user_id,
                    token_hash=token.token_hash,
                    created_at=token.created_at,
                    expires_at=token.expires_at,
                    used_at=token.used_at,
                )
            )
        except IntegrityError:
            await self._session.rollback()
            raise Conflict("reset code exists") from None

    async def find(self, token_hash: str) -> PasswordResetToken | None:
        c = password_reset_tokens.c
        row = (
            (
                await self._session.execute(
                    select(password_reset_tokens).where(c.token_hash == token_hash)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return PasswordResetToken(
            id=row[c.id],
            user_id=row[c.user_id],
            token_hash=row[c.token_hash],
            created_at=row[c.created_at],
            expires_at=row[c.expires_at],
            used_at=row[c.used_at],
        )

    async def use(self, token_id: str, at: datetime) -> bool:
        c = password_reset_tokens.c
        # Conditional update: of two concurrent resets with one code, one changes a row.
        result = await self._session.execute(
            update(password_reset_tokens)
            .where(c.id == token_id, c.used_at.is_(None))
            .values(used_at=at)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def use_all_for_user(self, user_id: str, at: datetime) -> None:
        c = password_reset_tokens.c
        await self._session.execute(
            update(password_reset_tokens)
            .where(c.user_id == user_id, c.used_at.is_(None))
            .values(used_at=at)
        )
