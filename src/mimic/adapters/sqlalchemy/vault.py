"""CredentialVault: a connection's credentials, read from its row and opened by the SecretBox
port on demand."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mimic.adapters.sqlalchemy.credentials import SqlCredentialRepository
from mimic.domain.accounts import ApiCredentials, ExchangeAccount
from mimic.domain.errors import AuthRejected, SecretUnreadable
from mimic.ports.credentials import SecretBox
from mimic.ports.exchange import CredentialVault


class StoredCredentialVault(CredentialVault):
    """Process-wide (the exchange client pool asks it when it builds a client), so each
    read runs on a short session of its own, never on a request's."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> None:
        self._sessions = sessions
        self._box = box

    async def credentials_for(self, account: ExchangeAccount) -> ApiCredentials:
        async with self._sessions() as session:
            stored = await SqlCredentialRepository(session).get(account.id)
        if stored is None:
            raise AuthRejected(f"{account.exchange}: this connection has no stored API keys")
        try:
            return self._box.open(stored.token, user_id=stored.user_id, account_id=account.id)
        except SecretUnreadable as exc:
            raise AuthRejected(f"{account.exchange}: {exc}") from None
