"""`mimic run` (embedded), `serve`, `worker`, `scheduler`, `migrate`, `telegram`,
`keys rotate`."""

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

import prometheus_client
import uvicorn
from dishka import Provider
from dishka.integrations.taskiq import setup_dishka
from litestar import Litestar
from taskiq import AsyncBroker
from taskiq.acks import AcknowledgeType
from taskiq.kicker import AsyncKicker
from taskiq.receiver import Receiver

from mimic.adapters.sqlalchemy.migrations import upgrade
from mimic.adapters.taskiq_queue import KICK_TIMEOUT_SECONDS
from mimic.adapters.telegram.bot_api import TelegramBotApi
from mimic.application.bootstrap import BootstrapPlatform, BootstrapResult
from mimic.application.rotate_keys import RotateCredentialKeys, RotationReport
from mimic.entrypoints import sources_cli
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.app import create_app
from mimic.entrypoints.ioc.root import build_container
from mimic.entrypoints.ioc.streams import holding_account_streams
from mimic.entrypoints.lab import add_replay_parser, replay_command
from mimic.entrypoints.logs import configure_logging
from mimic.entrypoints.runtime import run_event_loop, tune_garbage_collector
from mimic.entrypoints.telegram_polling import poll
from mimic.entrypoints.tracing import configure_tracing
from mimic.entrypoints.worker.notifications import DELIVER_TASK
from mimic.entrypoints.worker.priority import lower_priority
from mimic.entrypoints.worker.tasks import (
    KEEPALIVE_TASK,
    MASTER_POLL_TASK,
    MONITOR_TASK,
    PORTFOLIO_SYNC_TASK,
    SUBSCRIPTION_EXPIRY_TASK,
    SWEEP_TASK,
    create_broker,
    create_housekeeping_listener,
    housekeeping_stream,
)
from mimic.entrypoints.worker.warmup import warm_up

log = logging.getLogger("mimic")

# How long a stopping worker lets its running jobs finish (well inside the 60 s lease, and
# inside the usual 30 s an orchestrator waits before it kills).
WORKER_STOP_GRACE_SECONDS = 25
LISTEN_RETRY_SECONDS = 1.0

KEEPALIVE_SECONDS = 20.0
# Slots of a worker's housekeeping receiver, beside the trading one's --max-tasks.
HOUSEKEEPING_MAX_TASKS = 8


async def bootstrap(settings: Settings, *overrides: Provider) -> BootstrapResult:
    container = build_container(settings, create_broker(settings), *overrides)
    try:
        async with container() as request:
            interactor = await request.get(BootstrapPlatform)
            return await interactor(settings.admin_password, settings.webhook_passphrase)
    finally:
        await container.close()


async def rotate_keys(settings: Settings) -> RotationReport:
    container = build_container(settings, create_broker(settings))
    try:
        async with container() as request:
            rotate = await request.get(RotateCredentialKeys)
            return await rotate()
    finally:
        await container.close()


def rotate_keys_command(settings: Settings) -> None:
    report = asyncio.run(rotate_keys(settings))
    print(
        f"keys rotate: scanned={report.scanned} rotated={report.rotated} "
        f"already_current={report.already_current} "
        f"changed_meanwhile={report.changed_meanwhile} unreadable={len(report.unreadable)}",
        flush=True,
    )
    if not report.ok:
        print(f"unreadable connections: {', '.join(report.unreadable)}", file=sys.stderr)
        sys.exit(1)


def migrate_and_bootstrap(settings: Settings) -> BootstrapResult:
    upgrade(settings.database_url)
    result = asyncio.run(bootstrap(settings))
    _print_first_start(settings, result)
    return result


def _print_first_start(settings: Settings, result: BootstrapResult) -> None:
    lines = []
    if result.generated_admin_password:
        lines.append(f"  admin password (shown once): {result.generated_admin_password}")
    if result.generated_webhook_passphrase:
        lines.append(f"  webhook passphrase (shown once): {result.generated_webhook_passphrase}")
    passphrase = result.generated_webhook_passphrase
    if passphrase is None and settings.webhook_passphrase:
        if result.configured_passphrase_in_force:
            passphrase = settings.webhook_passphrase
        else:
            lines.append(
                "  MIMIC_WEBHOOK_PASSPHRASE opens no active source (it was set after the first"
                " start): `mimic sources rotate <id>` issues a new passphrase"
            )
    alert = json.dumps(
        {
            "passphrase": passphrase or "<the webhook passphrase of your source>",
            "symbol": "{{ticker}}",
            "action": "{{strategy.order.action}}",
            "market_position": "{{strategy.market_position}}",
            "id": "{{strategy.order.id}}-{{timenow}}",
        }
    )
    print("\nMimic is ready.")
    print(*lines, sep="\n")
    print(f"  admin login: admin at {settings.base_url}/api/auth/login")
    print(f"  webhook URL: {settings.base_url}/webhook")
    print(f"  TradingView alert message:\n    {alert}\n", flush=True)


def uvicorn_config(app: Litestar, settings: Settings) -> uvicorn.Config:
    """Proxy headers are believed only from MIMIC_TRUSTED_PROXIES: uvicorn would otherwise
    take X-Forwarded-For from 127.0.0.1 (or $FORWARDED_ALLOW_IPS) and rewrite the client."""
    trusted = list(settings.trusted_proxies)
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # JSON: uvicorn's own loggers go through ours; text keeps uvicorn's familiar lines.
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or [],
        # Live events are a few hundred bytes: per-message deflate would only cost every
        # open page a compressor's memory.
        ws_per_message_deflate=False,
    )


def serve(settings: Settings, *, embedded_worker: bool | None) -> None:
    app = create_app(settings, embedded_worker=embedded_worker)
    tune_garbage_collector()
    uvicorn.Server(uvicorn_config(app, settings)).run()


async def run_worker(settings: Settings, max_async_tasks: int) -> None:
    if settings.redis_url is None:
        raise SystemExit(
            "mimic worker needs MIMIC_REDIS_URL (the embedded mode runs it in-process)"
        )
    broker = create_broker(settings)
    housekeeping = create_housekeeping_listener(settings)
    container = build_container(settings, broker)
    for listened in (broker, housekeeping):
        setup_dishka(container, listened)
        listened.is_worker_process = True
        await listened.startup()
    await warm_up(container)
    tune_garbage_collector()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    finish = asyncio.Event()
    # Two receivers, each with its own slots: housekeeping (the sweeper among it) never
    # waits for a fan-out to free one.
    listening = asyncio.gather(
        listen_until(finish, lambda: _receiver(broker, max_async_tasks)),
        listen_until(finish, lambda: _receiver(housekeeping, HOUSEKEEPING_MAX_TASKS)),
    )
    log.info("worker started on %s", settings.queue_name)
    async with contextlib.AsyncExitStack() as streams:
        if settings.account_streams:
            await streams.enter_async_context(holding_account_streams(container, settings))
        await stop.wait()
    # A deploy stops workers: the running jobs (a fan-out sending orders) finish rather than
    # leave their followers to wait for the lease and the sweeper. No new job is taken.
    log.info("worker stopping: running jobs get up to %d s to finish", WORKER_STOP_GRACE_SECONDS)
    finish.set()
    for signum in (signal.SIGTERM, signal.SIGINT):  # a second signal: stop now
        loop.add_signal_handler(signum, listening.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await listening
    await _cancel_other_tasks()  # jobs still running after the grace: their leases run out
    await housekeeping.shutdown()
    await broker.shutdown()
    await container.close()
    log.info("worker stopped")


def _receiver(broker: AsyncBroker, max_async_tasks: int) -> Receiver:
    return Receiver(
        broker,
        run_startup=False,
        max_async_tasks=max_async_tasks,
        ack_type=AcknowledgeType.WHEN_EXECUTED,
        wait_tasks_timeout=WORKER_STOP_GRACE_SECONDS,
    )


class Listener(Protocol):
    async def listen(self, finish_event: asyncio.Event) -> None: ...


async def listen_until(
    finish: asyncio.Event,
    new_receiver: Callable[[], Listener],
    *,
    retry_after: float = LISTEN_RETRY_SECONDS,
) -> None:
    """Takes jobs until `finish` is set. When the queue fails (Redis restarting), a new
    receiver listens again after `retry_after`, as taskiq's own run_receiver_task does."""
    while not finish.is_set():
        try:
            await new_receiver().listen(finish)
        except Exception:
            log.warning("listening to the queue failed; listening again", exc_info=True)
            await asyncio.sleep(retry_after)


async def _cancel_other_tasks() -> None:
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


async def run_scheduler(settings: Settings) -> None:
    """Exactly one per deployment: kicks the sweeper, the position monitor, the subscription
    expiry job and a keep-alive on each stream on a timer."""
    if settings.redis_url is None:
        raise SystemExit("mimic scheduler needs MIMIC_REDIS_URL")
    broker: AsyncBroker = create_broker(settings)
    await broker.startup()
    periodic: list[tuple[AsyncKicker[[], None], float]] = [
        (AsyncKicker(SWEEP_TASK, broker, labels={}), settings.sweep_interval.total_seconds()),
        *(
            (AsyncKicker(KEEPALIVE_TASK, broker, labels={"queue_name": stream}), KEEPALIVE_SECONDS)
            for stream in (settings.queue_name, housekeeping_stream(settings))
        ),
        (
            AsyncKicker(SUBSCRIPTION_EXPIRY_TASK, broker, labels={}),
            settings.subscription_check_interval.total_seconds(),
        ),
        (AsyncKicker(MONITOR_TASK, broker, labels={}), settings.monitor_interval.total_seconds()),
        (
            AsyncKicker(MASTER_POLL_TASK, broker, labels={}),
            settings.master_poll_interval.total_seconds(),
        ),
        (AsyncKicker(DELIVER_TASK, broker, labels={}), settings.notify_interval.total_seconds()),
        (
            AsyncKicker(PORTFOLIO_SYNC_TASK, broker, labels={}),
            settings.portfolio_sync_interval.total_seconds(),
        ),
    ]
    loop = asyncio.get_running_loop()
    next_at = [loop.time()] * len(periodic)
    try:
        while True:
            for index, (kicker, every) in enumerate(periodic):
                now = loop.time()
                if now >= next_at[index]:
                    # Redis down or hung: this tick is lost, the next one kicks again.
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(KICK_TIMEOUT_SECONDS):
                            await kicker.kiq()
                    next_at[index] = now + every
            await asyncio.sleep(max(min(next_at) - loop.time(), 0) + 0.01)
    finally:
        await broker.shutdown()


async def run_telegram(settings: Settings, webhook_url: str | None) -> None:
    """Long polling by default; with a webhook URL, register it and return."""
    if not settings.telegram_bot_token:
        raise SystemExit("mimic telegram needs MIMIC_TELEGRAM_BOT_TOKEN")
    bot = TelegramBotApi(settings.telegram_bot_token, api_url=settings.telegram_api_url)
    try:
        if webhook_url is not None:
            if not settings.telegram_webhook_secret:
                raise SystemExit("webhook mode needs MIMIC_TELEGRAM_WEBHOOK_SECRET")
            await bot.set_webhook(webhook_url, settings.telegram_webhook_secret)
            print(f"Telegram now posts updates to {webhook_url}", flush=True)
            return
        container = build_container(settings, create_broker(settings))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        log.info("telegram bot polling")
        try:
            await poll(container, bot, stop)
        finally:
            await container.close()
    finally:
        await bot.close()


def serve_metrics_port(settings: Settings) -> None:
    """Processes without HTTP show their metrics on MIMIC_METRICS_PORT, if set (a thread).
    No token there: bind it (MIMIC_HOST) where only the scraper reaches it."""
    if settings.metrics_enabled and settings.metrics_port:
        prometheus_client.start_http_server(settings.metrics_port, addr=settings.host)
        log.info("metrics on %s:%d/metrics", settings.host, settings.metrics_port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mimic", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="embedded: migrate, bootstrap, serve HTTP + in-process worker")
    commands.add_parser("serve", help="HTTP only (production, with MIMIC_REDIS_URL)")
    worker = commands.add_parser("worker", help="a worker process (production)")
    worker.add_argument("--max-tasks", type=int, default=20)
    commands.add_parser("scheduler", help="the one scheduler process (production)")
    commands.add_parser("migrate", help="apply migrations and bootstrap the admin")
    telegram = commands.add_parser("telegram", help="the Telegram bot (long polling)")
    telegram.add_argument(
        "--set-webhook",
        metavar="URL",
        help="instead of polling, have Telegram post to URL (.../api/telegram/webhook)",
    )
    keys = commands.add_parser("keys", help="master keys of the credentials stored at rest")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    keys_commands.add_parser(
        "rotate", help="re-encrypt every stored secret with the newest of MIMIC_MASTER_KEYS"
    )
    sources_cli.add_parser(commands)
    add_replay_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "replay":  # the lab needs no settings, database or network
        sys.exit(replay_command(args))
    settings = Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    if args.command == "worker":
        lower_priority(settings.worker_nice)
    if args.command in ("worker", "scheduler", "telegram"):
        serve_metrics_port(settings)
    tracing = configure_tracing(settings, args.command)
    try:
        _run(args, settings)
    finally:
        if tracing is not None:
            tracing.shutdown()  # sends the spans still buffered


def _run(args: argparse.Namespace, settings: Settings) -> None:
    if args.command == "run":
        migrate_and_bootstrap(settings)
        serve(settings, embedded_worker=True if settings.embedded else None)
    elif args.command == "serve":
        serve(settings, embedded_worker=None)
    elif args.command == "worker":
        run_event_loop(run_worker(settings, args.max_tasks))
    elif args.command == "scheduler":
        with contextlib.suppress(KeyboardInterrupt):
            run_event_loop(run_scheduler(settings))
    elif args.command == "migrate":
        migrate_and_bootstrap(settings)
    elif args.command == "telegram":
        run_event_loop(run_telegram(settings, args.set_webhook))
    elif args.command == "keys":
        rotate_keys_command(settings)
    elif args.command == "sources":
        sources_cli.run(settings, args)
    else:  # pragma: no cover - argparse rejects unknown commands
        sys.exit(2)


if __name__ == "__main__":
    main()
