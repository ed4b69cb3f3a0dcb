"""`mimic sources`: the admin's signal sources from the command line."""

import argparse
import asyncio
import getpass
import os
import sys

from mimic.application.master_accounts import AttachMasterCommand, ManageMasterAccounts
from mimic.application.signal_sources import IssuedSource, ManageSignalSources, SourceChanges
from mimic.domain.accounts import SignalSource, TradeDirection
from mimic.domain.errors import DomainError
from mimic.domain.master_fills import MasterAccount
from mimic.entrypoints.config import Settings
from mimic.entrypoints.ioc.root import build_container
from mimic.entrypoints.worker.tasks import create_broker

_DIRECTIONS = [d.value for d in TradeDirection]


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    sources = commands.add_parser("sources", help="signal sources (masters) and passphrases")
    verbs = sources.add_subparsers(dest="sources_command", required=True)
    verbs.add_parser("list", help="every source")
    create = verbs.add_parser("create", help="a new source; prints its passphrase once")
    create.add_argument("name")
    create.add_argument("--direction", choices=_DIRECTIONS, default="both")
    rotate = verbs.add_parser("rotate", help="a new passphrase; the old one stops working")
    rotate.add_argument("source_id")
    rename = verbs.add_parser("rename", help="change a source's name")
    rename.add_argument("source_id")
    rename.add_argument("name")
    direction = verbs.add_parser("direction", help="copy both sides, or longs or shorts only")
    direction.add_argument("source_id")
    direction.add_argument("direction", choices=_DIRECTIONS)
    for verb, text in (("pause", "refuse its alerts"), ("resume", "accept its alerts again")):
        verbs.add_parser(verb, help=text).add_argument("source_id")
    verbs.add_parser("delete", help="a source no signal came from").add_argument("source_id")
    attach = verbs.add_parser(
        "attach",
        help="copy a master's own exchange account: its fills become the source's signals",
        description="Keys are read from MIMIC_MASTER_API_KEY / MIMIC_MASTER_API_SECRET "
        "(/ MIMIC_MASTER_API_PASSWORD), or asked for: never on the command line.",
    )
    attach.add_argument("source_id")
    attach.add_argument("--exchange", required=True, help="paper, or a ccxt id: binanceusdm")
    attach.add_argument("--symbols", required=True, help="comma-separated: BTCUSDT,ETHUSDT")
    verbs.add_parser("account", help="a source's exchange account").add_argument("source_id")
    verbs.add_parser("detach", help="stop copying a source's account").add_argument("source_id")


def run(settings: Settings, args: argparse.Namespace) -> None:
    try:
        for line in asyncio.run(_run(settings, args)):
            print(line, flush=True)
    except DomainError as exc:
        print(f"mimic sources: {exc}", file=sys.stderr)
        sys.exit(1)


async def _run(settings: Settings, args: argparse.Namespace) -> list[str]:
    container = build_container(settings, create_broker(settings))
    try:
        async with container() as request:
            if args.sources_command in _ACCOUNT_VERBS:
                return await _account_verb(await request.get(ManageMasterAccounts), args)
            manage = await request.get(ManageSignalSources)
            return await _verb(manage, args)
    finally:
        await container.close()


async def _verb(manage: ManageSignalSources, args: argparse.Namespace) -> list[str]:
    verb = args.sources_command
    if verb == "list":
        return [_line(source) for source in await manage.list_all()]
    if verb == "create":
        return _issued(await manage.create(args.name, TradeDirection(args.direction)))
    if verb == "rotate":
        return _issued(await manage.rotate(args.source_id))
    changes = {
        "rename": SourceChanges(name=getattr(args, "name", None)),
        "direction": SourceChanges(direction=TradeDirection(getattr(args, "direction", "both"))),
        "pause": SourceChanges(active=False),
        "resume": SourceChanges(active=True),
    }
    if verb in changes:
        return [_line(await manage.change(args.source_id, changes[verb]))]
    await manage.delete(args.source_id)
    return [f"deleted {args.source_id}"]


_ACCOUNT_VERBS = frozenset({"attach", "account", "detach"})


async def _account_verb(manage: ManageMasterAccounts, args: argparse.Namespace) -> list[str]:
    verb = args.sources_command
    if verb == "detach":
        await manage.detach(args.source_id)
        return [f"detached the exchange account of {args.source_id}"]
    if verb == "account":
        return _account_lines(await manage.get(args.source_id))
    exchange = args.exchange.strip().lower()
    keys: dict[str, str | None] = {"api_key": None, "api_secret": None, "password": None}
    if exchange != "paper":
        keys = {
            "api_key": os.environ.get("MIMIC_MASTER_API_KEY") or getpass.getpass("API key: "),
            "api_secret": (
                os.environ.get("MIMIC_MASTER_API_SECRET") or getpass.getpass("API secret: ")
            ),
            "password": os.environ.get("MIMIC_MASTER_API_PASSWORD") or None,
        }
    command = AttachMasterCommand(
        source_id=args.source_id,
        exchange=exchange,
        symbols=[s for s in args.symbols.split(",") if s.strip()],
        **keys,
    )
    return _account_lines(await manage.attach(command))


def _account_lines(master: MasterAccount) -> list[str]:
    lines = [
        f"{master.source_id}  {master.exchange}  {','.join(master.symbols)}  "
        f"key {master.api_key_masked or '-'}"
    ]
    if master.permission_warning is not None:
        lines.append(f"WARNING: {master.permission_warning}")
    return lines


def _line(source: SignalSource) -> str:
    state = "active" if source.active else "paused"
    return f"{source.id}  {source.name}  {state}  {source.direction}"


def _issued(issued: IssuedSource) -> list[str]:
    return [_line(issued.source), f"passphrase (shown once): {issued.passphrase}"]
