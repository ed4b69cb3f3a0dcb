"""Streamed account state of the embedded mode: one process writes and reads it."""

import time
from collections.abc import Callable
from datetime import timedelta

from mimic.adapters.streamed_state import Change, Fields
from mimic.adapters.streamed_store import FieldStore


class InMemoryStreamedAccounts(FieldStore):
    def __init__(self, orphan_ttl: timedelta = timedelta(minutes=10)) -> None:
        super().__init__(orphan_ttl)
        self._accounts: dict[str, tuple[Fields, float | None]] = {}  # fields, expiry

    async def _apply(self, account_id: str, rule: Callable[[Fields], Change]) -> int:
        fields, expires = self._live(account_id)
        change = rule(fields)
        if change.expire is not None:
            expires = time.monotonic() + change.expire.total_seconds()
        elif change.expire_if_none is not None and expires is None:
            expires = time.monotonic() + change.expire_if_none.total_seconds()
        if change.fields:
            self._accounts[account_id] = (change.fields, expires)
        else:
            self._accounts.pop(account_id, None)
        return change.result

    async def _load(self, account_id: str) -> Fields:
        return self._live(account_id)[0]

    def _live(self, account_id: str) -> tuple[Fields, float | None]:
        fields, expires = self._accounts.get(account_id, ({}, None))
        if expires is not None and expires <= time.monotonic():
            del self._accounts[account_id]
            return {}, None
        return fields, expires
