"""`mimic replay`: the strategy lab from the command line (no database, no network)."""

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

import msgspec

from mimic.adapters.lab.inputs import read_alerts, read_candles
from mimic.adapters.lab.outputs import iso, render_outputs, write_outputs
from mimic.adapters.paper.rules import paper_listings
from mimic.domain.errors import InvalidField
from mimic.domain.guardrails import GuardrailSettings
from mimic.domain.lab.accounts import LabFollower, LabMarket, ReplayResult, check_alerts
from mimic.domain.lab.book import Costs
from mimic.domain.lab.candles import CandleSeries
from mimic.domain.lab.engine import replay
from mimic.domain.lab.runs import LabOutputs
from mimic.domain.lab.timeline import Alert
from mimic.domain.protection import ProtectionSettings, change_protection
from mimic.domain.risk import (
    FollowerRiskSettings,
    PlatformRiskSettings,
    UserCaps,
    validate_follower_settings,
)
from mimic.entrypoints.http.profile.schemas import SettingsPatch
from mimic.ports.lab import LabEngine

MAX_BPS = Decimal(1000)


class FollowerSpec(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    equity: Decimal
    settings: SettingsPatch = msgspec.field(default_factory=SettingsPatch)


def _given(value: Any, default: Any = None) -> Any:
    return default if value is msgspec.UNSET else value


def parse_followers(data: bytes, platform: PlatformRiskSettings) -> list[LabFollower]:
    """`[{"name", "equity", "settings"}]`, settings shaped as PATCH /api/me/settings and
    checked as that route checks them (the platform's caps apply)."""
    try:
        specs = msgspec.json.decode(data, type=list[FollowerSpec])
    except msgspec.DecodeError as exc:
        raise InvalidField("followers", str(exc)) from None
    followers, names = [], set()
    for n, spec in enumerate(specs):
        where = f"followers[{n}]"
        if not spec.name.strip() or spec.name in names or spec.name == "master":
            raise InvalidField(f"{where}.name", "must be a unique name other than 'master'")
        if not spec.equity.is_finite() or spec.equity <= 0:
            raise InvalidField(f"{where}.equity", "must be greater than 0")
        names.add(spec.name)
        patch = spec.settings
        risk = FollowerRiskSettings(
            risk_perc=_given(patch.risk_perc),
            leverage=_given(patch.leverage),
            paused=bool(_given(patch.paused, False)),
        )
        guardrails = GuardrailSettings(
            drawdown_stop_perc=_given(patch.drawdown_stop_perc),
            close_all_on_drawdown=bool(_given(patch.close_all_on_drawdown, False)),
            profit_lock_perc=_given(patch.profit_lock_perc),
        )
        try:
            validate_follower_settings(risk, platform, UserCaps())
            protection = change_protection(ProtectionSettings(), patch.protection_changes())
            guardrails.validate()
        except InvalidField as exc:
            raise InvalidField(f"{where}.settings.{exc.field}", exc.message) from None
        followers.append(LabFollower(spec.name, spec.equity, risk, protection, guardrails))
    return followers


@dataclass(frozen=True, slots=True)
class LoadedLab:
    market: LabMarket
    alerts: list[Alert]
    followers: list[LabFollower]
    costs: Costs
    master_equity: Decimal


def load_run(
    candles: Sequence[tuple[bytes, str]],
    alerts: tuple[bytes, str],
    followers: bytes | None,
    *,
    fee_bps: Decimal,
    slippage_bps: Decimal,
    master_equity: Decimal,
    platform: PlatformRiskSettings,
) -> LoadedLab:
    series: dict[str, CandleSeries] = {}
    for data, name in candles:
        for symbol, one in read_candles(data, name).items():
            if symbol in series:
                raise InvalidField("candles", f"{symbol} is given twice")
            series[symbol] = one
    listings = paper_listings()
    rules = {s: listings[s].rules for s in series if s in listings}
    for name, value in (("fee_bps", fee_bps), ("slippage_bps", slippage_bps)):
        if not value.is_finite() or not 0 <= value <= MAX_BPS:
            raise InvalidField(name, f"must be from 0 to {MAX_BPS}")
    if not master_equity.is_finite() or master_equity <= 0:
        raise InvalidField("master_equity", "must be greater than 0")
    return LoadedLab(
        market=LabMarket(series, rules),
        alerts=read_alerts(*alerts),
        followers=[LabFollower("default", Decimal(10000))]
        if followers is None
        else parse_followers(followers, platform),
        costs=Costs(fee_bps=fee_bps, slippage_bps=slippage_bps),
        master_equity=master_equity,
    )


def run(
    lab: LoadedLab, platform: PlatformRiskSettings, progress: Callable[[int], None] | None = None
) -> ReplayResult:
    return replay(
        lab.market,
        lab.alerts,
        lab.followers,
        platform=platform,
        costs=lab.costs,
        master_equity=lab.master_equity,
        progress=progress,
    )


def inputs_summary(lab: LoadedLab) -> Mapping[str, Any]:
    series = lab.market.series
    return {
        "symbols": sorted(series),
        "candles": sum(len(s) for s in series.values()),
        "from": iso(min(s.times[0] for s in series.values())),
        "to": iso(max(s.end_time() for s in series.values())),
        "alerts": len(lab.alerts),
        "followers": len(lab.followers),
        "fee_bps": float(lab.costs.fee_bps),
        "slippage_bps": float(lab.costs.slippage_bps),
        "master_equity": float(lab.master_equity),
    }


def add_replay_parser(commands: Any) -> None:
    replay_command = commands.add_parser(
        "replay", help="the strategy lab: replay a master's alerts over candles per follower"
    )
    replay_command.add_argument("--candles", required=True, action="append", type=Path)
    replay_command.add_argument("--alerts", required=True, type=Path)
    replay_command.add_argument("--followers", type=Path)
    replay_command.add_argument("--fee-bps", type=Decimal, default=Decimal(4))
    replay_command.add_argument("--slippage-bps", type=Decimal, default=Decimal(0))
    replay_command.add_argument("--master-equity", type=Decimal, default=Decimal(10000))
    replay_command.add_argument("--out", required=True, type=Path)


def progress_bar(total: int, stream: TextIO) -> Callable[[int], None] | None:
    if not stream.isatty():
        return None

    def show(done: int) -> None:
        filled = 30 * done // total
        stream.write(f"\rreplay [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} accounts")
        if done == total:
            stream.write("\n")
        stream.flush()

    return show


def replay_command(args: argparse.Namespace) -> int:
    platform = PlatformRiskSettings()
    try:
        lab = load_run(
            [(path.read_bytes(), path.name) for path in args.candles],
            (args.alerts.read_bytes(), args.alerts.name),
            None if args.followers is None else args.followers.read_bytes(),
            fee_bps=args.fee_bps,
            slippage_bps=args.slippage_bps,
            master_equity=args.master_equity,
            platform=platform,
        )
        result = run(lab, platform, progress_bar(len(lab.followers) + 1, sys.stderr))
        write_outputs(args.out, render_outputs(result, inputs_summary(lab)))
    except (InvalidField, OSError, InvalidOperation) as exc:
        print(f"mimic replay: {exc}", file=sys.stderr)
        return 2
    print(f"mimic replay: wrote report.json, trades.csv, equity.png, equity.html to {args.out}")
    return 0


class LabFile(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    content: str


class LabUpload(msgspec.Struct, forbid_unknown_fields=True):
    """POST /api/admin/lab/runs: the files `mimic replay` reads, and its options."""

    candles: list[LabFile]
    alerts: LabFile
    followers: msgspec.Raw = msgspec.Raw(b"null")  # the followers file's JSON list
    fee_bps: Decimal = Decimal(4)
    slippage_bps: Decimal = Decimal(0)
    master_equity: Decimal = Decimal(10000)


class UploadedLab(LabEngine):
    """The lab engine of the web console: an upload in, the files of `mimic replay` out."""

    def __init__(self) -> None:
        self._platform = PlatformRiskSettings()  # as `mimic replay`: the default caps

    def _load(self, inputs: bytes) -> LoadedLab:
        try:
            upload = msgspec.json.decode(inputs, type=LabUpload)
        except msgspec.DecodeError as exc:
            raise InvalidField("upload", str(exc)) from None
        if not upload.candles:
            raise InvalidField("candles", "at least one candle file is required")
        return load_run(
            [(f.content.encode(), f.name) for f in upload.candles],
            (upload.alerts.content.encode(), upload.alerts.name),
            None if bytes(upload.followers) == b"null" else bytes(upload.followers),
            fee_bps=upload.fee_bps,
            slippage_bps=upload.slippage_bps,
            master_equity=upload.master_equity,
            platform=self._platform,
        )

    def check(self, inputs: bytes) -> None:
        lab = self._load(inputs)
        if not lab.alerts:
            raise InvalidField("alerts", "the alerts file holds no alert")
        check_alerts(lab.market, lab.alerts)

    def run(self, inputs: bytes) -> LabOutputs:
        lab = self._load(inputs)
        return render_outputs(run(lab, self._platform), inputs_summary(lab))
