"""`mimic sources`: the admin's signal sources from the command line."""

import argparse
import asyncio
import sys

from mimic.application.signal_sources import IssuedSource, ManageSignalSources, SourceChanges
from mimic.domain.accounts import SignalSource, TradeDirection
from mimic.domain.errors import DomainError
from mimic.entrypoints.config import Settings
from mimic.entrypoints.ioc import build_container
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


def _line(source: SignalSource) -> str:
    state = "active" if source.active else "paused"
    return f"{source.id}  {source.name}  {state}  {source.direction}"


def _issued(issued: IssuedSource) -> list[str]:
    return [_line(issued.source), f"passphrase (shown once): {issued.passphrase}"]
