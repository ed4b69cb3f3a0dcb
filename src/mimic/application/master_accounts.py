"""A master's own exchange account as a signal source: attached by the admin, read by polling.

Every few seconds the worker reads each attached account's trade history since the last
fill copied (per symbol) and stores one signal per new fill, in the same transaction as
the cursor that moves past it. The signal's id and dedupe key come from the master's trade
id, so a fill read twice (two polls at once, a crash before the cursor was saved) is
stored once; a restart resumes from the stored cursor, so no fill is missed either.
"""

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from mimic.application.audit_trail import SYSTEM, RequestContext, audit_event
from mimic.application.exchange_connections import api_credentials
from mimic.domain.accounts import (
    PAPER_EXCHANGE,
    ConnectionStatus,
    ExchangeAccount,
    mask_api_key,
)
from mimic.domain.errors import Conflict, ExchangeError, InvalidField, NotFound
from mimic.domain.fanout import all_parts
from mimic.domain.master_fills import (
    MasterAccount,
    MasterCursor,
    MasterFill,
    in_copy_order,
    master_dedupe_key,
    master_signal_id,
    permission_warning,
    translate_fill,
)
from mimic.domain.performance import AccountFill
from mimic.domain.positions import Position, PositionSide
from mimic.domain.signal import Signal
from mimic.domain.symbols import normalize_symbol
from mimic.ports.credentials import SecretBox
from mimic.ports.exchange import ExchangeGateway, ExchangeGateways, PaperMarket, SymbolCatalog
from mimic.ports.master_accounts import MasterAccountRepository
from mimic.ports.repositories import (
    AuditLog,
    SignalRepository,
    SignalSourceRepository,
    TransactionManager,
)
from mimic.ports.services import Clock, SignalQueue

log = logging.getLogger(__name__)

MAX_SYMBOLS = 50
# Attaching waits this long for the exchange to say what the key may do, then warns that
# it could not tell: the admin is at the screen, the check is not worth a long wait.
PERMISSION_CHECK_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class AttachMasterCommand:
    source_id: str
    exchange: str
    symbols: Sequence[str]
    api_key: str | None = None
    api_secret: str | None = None
    password: str | None = None


def as_connection(master: MasterAccount) -> ExchangeAccount:
    """The account as the exchange gateways know accounts; never a follower's connection
    (it is in no list of copy candidates), so nothing is ever sent to it."""
    return ExchangeAccount(
        id=master.id,
        user_id=master.owner,
        exchange=master.exchange,
        label=f"master of {master.source_id}",
        created_at=master.created_at,
        status=ConnectionStatus.APPROVED,
    )


class ManageMasterAccounts:
    """The admin attaches a master's account to a source (read-only keys) or detaches it."""

    def __init__(
        self,
        masters: MasterAccountRepository,
        sources: SignalSourceRepository,
        gateways: ExchangeGateways,
        catalog: SymbolCatalog,
        paper: PaperMarket,
        box: SecretBox,
        audit: AuditLog,
        tx: TransactionManager,
        clock: Clock,
    ) -> None:
        self._masters = masters
        self._sources = sources
        self._gateways = gateways
        self._catalog = catalog
        self._paper = paper
        self._box = box
        self._audit = audit
        self._tx = tx
        self._clock = clock

    async def get(self, source_id: str) -> MasterAccount:
        master = await self._masters.get_for_source(source_id)
        if master is None:
            raise NotFound(f"signal source {source_id} has no exchange account")
        return master

    async def attach(
        self, command: AttachMasterCommand, context: RequestContext = SYSTEM
    ) -> MasterAccount:
        source = await self._sources.get(command.source_id)
        if source is None:
            raise NotFound(f"signal source {command.source_id} not found")
        exchange = command.exchange.strip().lower()
        if not self._gateways.supports(exchange):
            raise InvalidField("exchange", f"{command.exchange!r} is not a supported exchange")
        symbols = await self._valid_symbols(command.symbols)
        credentials = None
        if exchange != PAPER_EXCHANGE:
            credentials = api_credentials(
                exchange,
                command.api_key,
                command.api_secret,
                command.password,
                purpose="to read a master's account on",
            )
        if await self._masters.get_for_source(source.id) is not None:
            raise Conflict(f"source {source.name!r} has an exchange account: detach it first")
        master = MasterAccount(
            id=uuid.uuid4().hex,
            source_id=source.id,
            exchange=exchange,
            symbols=symbols,
            created_at=self._clock.now(),
            api_key_masked=mask_api_key(credentials.api_key) if credentials else None,
        )
        token = None
        if credentials is not None:
            token = self._box.seal(credentials, user_id=master.owner, account_id=master.id)
        await self._masters.add(master, token)
        await self._tx.commit()
        if exchange == PAPER_EXCHANGE:
            await self._paper.open_account(master.id)
        else:
            master.permission_warning = await self._permission_warning(master)
        details = {"exchange": exchange, "symbols": ",".join(symbols)}
        if master.permission_warning is not None:
            details["warning"] = master.permission_warning
            log.warning("source %s: master account key: %s", source.id, master.permission_warning)
        await self._audit.record(
            audit_event(
                context,
                self._clock.now(),
                "source.master_attached",
                target=source.id,
                source=source.name,
                **details,
            )
        )
        await self._tx.commit()
        return master

    async def detach(self, source_id: str, context: RequestContext = SYSTEM) -> None:
        if not await self._masters.delete_for_source(source_id):
            raise NotFound(f"signal source {source_id} has no exchange account")
        await self._audit.record(
            audit_event(context, self._clock.now(), "source.master_detached", target=source_id)
        )
        await self._tx.commit()

    async def _valid_symbols(self, raw: Sequence[str]) -> tuple[str, ...]:
        if not raw or len(raw) > MAX_SYMBOLS:
            raise InvalidField("symbols", f"name 1 to {MAX_SYMBOLS} symbols to copy")
        symbols = tuple(dict.fromkeys(normalize_symbol(s) for s in raw))
        for symbol in symbols:
            if not await self._catalog.is_tradable(symbol):
                raise InvalidField("symbols", f"{symbol} is not traded on any connected exchange")
        return symbols

    async def _permission_warning(self, master: MasterAccount) -> str | None:
        try:
            async with asyncio.timeout(PERMISSION_CHECK_SECONDS):
                gateway = await self._gateways.for_account(as_connection(master))
                check = await gateway.check_account()
        except (ExchangeError, TimeoutError) as exc:
            log.info("master account %s: permissions unreadable: %s", master.id, exc)
            return permission_warning(can_trade=None, can_withdraw=None, checked=False)
        known = check.key_can_trade is not None or check.key_can_withdraw is not None
        return permission_warning(
            can_trade=check.key_can_trade,
            can_withdraw=check.key_can_withdraw,
            checked=known,
            hedge_mode=check.hedge_mode,
        )


class CopyMasterFills:
    """One poll of every active source's master account: new fills become signals."""

    def __init__(
        self,
        masters: MasterAccountRepository,
        sources: SignalSourceRepository,
        signals: SignalRepository,
        gateways: ExchangeGateways,
        tx: TransactionManager,
        queue: SignalQueue,
        clock: Clock,
        *,
        fanout_parts: int = 1,
    ) -> None:
        self._masters = masters
        self._sources = sources
        self._signals = signals
        self._gateways = gateways
        self._tx = tx
        self._queue = queue
        self._clock = clock
        self._parts = all_parts(fanout_parts)

    async def __call__(self) -> int:
        """The number of signals stored; an account whose exchange fails waits for the next
        poll (its cursor has not moved)."""
        masters = await self._masters.list_all()
        active = {s.id for s in await self._sources.list_all() if s.active}
        await self._tx.commit()
        stored = 0
        for master in masters:
            if master.source_id not in active:
                continue  # a paused source copies nothing; resumed, it goes on from its cursor
            try:
                stored += await self.poll(master)
            except ExchangeError as exc:
                await self._tx.rollback()
                log.warning("master account of source %s: %s", master.source_id, exc.reason)
            except Exception:
                # One account's fault must not stop the others; its cursor has not moved.
                await self._tx.rollback()
                log.exception("master account of source %s could not be read", master.source_id)
        return stored

    async def poll(self, master: MasterAccount) -> int:
        gateway = await self._gateways.for_account(as_connection(master))
        cursors = await self._masters.cursors(master.source_id)
        await self._tx.commit()
        unread = [s for s in master.symbols if s not in cursors]
        if unread:
            cursors.update(await self._start(master, gateway, unread))
        watched = {s: cursors[s] for s in master.symbols}
        since = min(c.since for c in watched.values())
        fills = [
            f
            for f in map(_master_fill, await gateway.fetch_fills(master.symbols, since))
            # A fill of no quantity (an exchange's oddity) moves no position: nothing to copy.
            if f.symbol in watched and f.quantity > 0 and watched[f.symbol].is_new(f)
        ]
        if not fills:
            return 0
        equity = (await gateway.fetch_balance()).equity
        now = self._clock.now()
        new_signals: list[Signal] = []
        moved: dict[str, MasterCursor] = {}
        for order, fill in enumerate(in_copy_order(fills)):
            cursor = moved.get(fill.symbol) or watched[fill.symbol]
            translated = translate_fill(cursor.position, fill, equity)
            moved[fill.symbol] = cursor.after(fill, translated.position_after)
            if translated.skip_reason is not None:
                log.warning(
                    "source %s: trade %s (%s) not copied as an entry: %s",
                    master.source_id,
                    fill.trade_id,
                    translated.move,
                    translated.skip_reason,
                )
            if translated.signal is None:
                continue
            signal = Signal(
                id=master_signal_id(master.source_id, fill.trade_id),
                source_id=master.source_id,
                params=translated.signal,
                dedupe_key=master_dedupe_key(fill.trade_id),
                # A source's signals on one symbol run by received_at (ties by id, which
                # is a hash here): a microsecond apart, they run in the master's order.
                received_at=now + timedelta(microseconds=order),
                fanout_parts=len(self._parts),
                # Copy fidelity measures followers against what the master really got.
                reference_price=fill.price,
                reference_at=fill.executed_at,
            )
            stored, duplicate = await self._signals.add_unless_duplicate(signal, expiring_after=now)
            if not duplicate:
                new_signals.append(stored)
                log.info(
                    "signal %s: master trade %s of source %s (%s)",
                    stored.id,
                    fill.trade_id,
                    master.source_id,
                    translated.move,
                )
        await self._masters.save_cursors(master.source_id, moved)
        await self._tx.commit()
        # In order: a source's signals on one symbol run one after the other anyway.
        for signal in new_signals:
            await asyncio.gather(
                *(self._queue.enqueue_execution(signal.id, p.index) for p in self._parts)
            )
        return len(new_signals)

    async def _start(
        self, master: MasterAccount, gateway: ExchangeGateway, symbols: Sequence[str]
    ) -> dict[str, MasterCursor]:
        """Symbols read for the first time: copying starts now, from the master's position
        (what was opened before is not copied; closing it later is, by fractions)."""
        now = self._clock.now()
        positions = {p.symbol: p for p in await gateway.fetch_positions()}
        started = {s: MasterCursor(s, now, frozenset(), _signed(positions.get(s))) for s in symbols}
        await self._masters.save_cursors(master.source_id, started)
        await self._tx.commit()
        return started


def _signed(position: Position | None) -> Decimal:
    if position is None:
        return Decimal(0)
    return position.quantity if position.side is PositionSide.LONG else -position.quantity


def _master_fill(fill: AccountFill) -> MasterFill:
    return MasterFill(
        trade_id=fill.fill_id,
        symbol=fill.symbol,
        side=fill.side,
        quantity=fill.quantity,
        price=fill.price,
        executed_at=fill.executed_at,
    )
