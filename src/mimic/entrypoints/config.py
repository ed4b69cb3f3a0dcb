"""Settings from the environment (MIMIC_*); the embedded default needs none of them."""

import base64
import contextlib
import ipaddress
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pyotp

from mimic.adapters.smtp_mailer import TLS_MODES
from mimic.application.hold_account_streams import RECORD_BATCH
from mimic.application.throttle import Limit, RateLimits
from mimic.domain.fanout import MAX_FANOUT_PARTS
from mimic.domain.lockout import LockoutPolicy
from mimic.domain.quotas import Quotas

DEFAULT_VAR_DIR = Path("var")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# The lowest priority the OS gives (a process may lower its own priority, never raise it).
MAX_NICE = 19


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def _at_least_one(name: str, default: int) -> int:
    value = _int(name, default)
    if value < 1:
        raise ValueError(f"{name} must be 1 or more")
    return value


def _fanout_parts() -> int:
    parts = _int("MIMIC_FANOUT_PARTS", 1)
    if not 1 <= parts <= MAX_FANOUT_PARTS:
        raise ValueError(f"MIMIC_FANOUT_PARTS must be between 1 and {MAX_FANOUT_PARTS}")
    return parts


def _worker_nice() -> int:
    nice = _int("MIMIC_WORKER_NICE", 0)
    if not 0 <= nice <= MAX_NICE:
        raise ValueError(f"MIMIC_WORKER_NICE must be between 0 and {MAX_NICE}")
    return nice


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    value = os.environ.get(name) or default
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _list(name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in os.environ.get(name, "").split(",") if item.strip())


def _networks(name: str) -> tuple[str, ...]:
    """A list of IPs or CIDR networks; a typo stops the start instead of allowing no one."""
    networks = _list(name)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(f"{name}: {network!r} is not an IP address or network") from None
    return networks


def _rate_limits() -> RateLimits:
    """MIMIC_RATE_<DOOR>="count/seconds", e.g. MIMIC_RATE_LOGIN_PER_IP=30/60."""
    defaults = RateLimits()
    values = {}
    for name in RateLimits.__dataclass_fields__:
        raw = os.environ.get(f"MIMIC_RATE_{name.upper()}")
        values[name] = Limit.parse(raw) if raw else getattr(defaults, name)
    return RateLimits(**values)


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, not {raw!r}")


def _secret_file(
    path: Path, generate: Callable[[], str] = lambda: secrets.token_urlsafe(48)
) -> str:
    """A secret generated once and kept in a 0600 file, so restarts keep sessions valid."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under a private name, then linked into place: processes starting
    # together (worker and scheduler) all end up with the one secret that won.
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(generate())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink()
    return path.read_text().strip()


def _new_master_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")  # a Fernet key


def _master_keys(raw: str | None, var_dir: Path) -> tuple[str, ...]:
    """MIMIC_MASTER_KEYS (comma separated, newest first), else the embedded key file."""
    keys = tuple(key.strip() for key in (raw or "").split(",") if key.strip())
    return keys or (_secret_file(var_dir / "master_key", _new_master_key),)


def _origins(raw: str | None) -> Mapping[str, str]:
    """MIMIC_CCXT_URL_OVERRIDES, e.g. binanceusdm=http://127.0.0.1:8123,bybit=https://..."""
    origins = {}
    for item in (raw or "").split(","):
        if item.strip():
            exchange, separator, url = item.partition("=")
            if not separator or not url.strip():
                raise ValueError(f"MIMIC_CCXT_URL_OVERRIDES: expected exchange=url, got {item!r}")
            origins[exchange.strip().lower()] = url.strip()
    return origins


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48), repr=False)
    access_token_minutes: int = 60 * 12
    admin_password: str | None = field(default=None, repr=False)
    webhook_passphrase: str | None = field(default=None, repr=False)
    dedupe_window: timedelta = timedelta(seconds=60)
    max_signal_age: timedelta = timedelta(minutes=5)
    intent_lease: timedelta = timedelta(seconds=60)
    sweep_interval: timedelta = timedelta(seconds=15)
    fanout_concurrency: int = 64
    # Each signal's fan-out runs in this many parts, each on whichever worker takes it: as
    # many as there are worker processes (cores) to share a signal to thousands at once.
    fanout_parts: int = 1
    # `mimic worker`'s niceness (0-19): above 0, a worker sharing cores with `serve` yields
    # them to the intake, whose answer TradingView waits for; a fan-out is throughput work.
    worker_nice: int = 0
    paper_starting_balance: Decimal = Decimal(10000)
    # Simulated exchange round trip, for demos and crash tests; zero by default.
    paper_latency: timedelta = timedelta(0)
    # The paper venue batches concurrent calls into one transaction, so it takes many at once.
    paper_concurrency: int = 1000
    max_body_bytes: int = 64 * 1024
    queue_name: str = "mimic:signals"
    redis_idle_timeout: timedelta = timedelta(seconds=60)
    # Mail: without an SMTP host, mails are written to the log (the embedded default).
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_tls: str = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    mail_from: str = "mimic@localhost"
    password_reset_lifetime: timedelta = timedelta(minutes=30)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    # Redis key prefix of the shared rate-limit counters; default: "<queue_name>:ratelimit:".
    rate_limit_prefix: str | None = None
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    quotas: Quotas = field(default_factory=Quotas)
    # Password hashes computed at once (argon2id: 64 MiB and one core each).
    password_hash_concurrency: int = 2
    # Browsers on these origins may call the API with credentials; none by default.
    cors_origins: tuple[str, ...] = ()
    # Peers (IPs or networks) whose X-Forwarded-For is believed; none by default.
    trusted_proxies: tuple[str, ...] = ()
    # Only these senders (IPs or networks) may call the webhook; anyone by default.
    webhook_allowed_ips: tuple[str, ...] = ()
    # Session cookie for the web UI: Secure unless the public URL is plain http.
    cookie_secure: bool | None = None
    # Payments (Plisio). Without an API key, invoices answer 503 and callbacks are refused.
    plisio_api_key: str | None = field(default=None, repr=False)
    plisio_base_url: str = "https://api.plisio.net"
    plisio_timeout: timedelta = timedelta(seconds=10)
    plisio_invoice_expire_min: int = 60
    # Starting values of the admin's payment settings (PUT /api/admin/settings/payments).
    require_subscription: bool = False
    referral_commission_perc: Decimal = Decimal(10)
    subscription_check_interval: timedelta = timedelta(seconds=60)
    # Position monitor (trailing stop, DCA): how often a round runs, where its state lives.
    monitor_interval: timedelta = timedelta(seconds=5)
    # Masters' own exchange accounts: how often their trade histories are read for new fills.
    master_poll_interval: timedelta = timedelta(seconds=3)
    trailing_key_prefix: str = "mimic:trailing:"
    # Account event streams (fills, liquidations, orders placed by hand, as they happen):
    # held by workers under leases in Redis, each account by one worker at a time.
    account_streams: bool = True
    # Planning reads Binance positions from what each live stream last reported (not REST).
    streamed_positions: bool = True
    stream_lease: timedelta = timedelta(seconds=15)
    stream_reconcile_interval: timedelta = timedelta(minutes=5)
    paper_events_poll: timedelta = timedelta(milliseconds=250)
    # New exchange stream connections this process opens in any 5 minutes (Binance allows
    # 300 per IP: divide among the processes sharing an address).
    stream_connects_per_5min: int = 250
    # Fills of many streams recorded in one unit of work at most (a burst of TPs firing).
    stream_record_batch: int = RECORD_BATCH
    # A position a stream saw go flat with no fill of its own is reconciled after this.
    stream_flat_grace: timedelta = timedelta(seconds=2)
    # Live events to open pages: Redis Pub/Sub channel names start with it (production).
    live_channel_prefix: str = "mimic:live:"
    # Balances, fills, daily guardrails and their close-all: how often they are synced.
    portfolio_sync_interval: timedelta = timedelta(seconds=60)
    # Telegram: no token, no bot (notifications then go by email only).
    telegram_bot_token: str | None = field(default=None, repr=False)
    telegram_api_url: str = "https://api.telegram.org"
    telegram_bot_username: str | None = None
    telegram_webhook_secret: str | None = field(default=None, repr=False)
    notify_interval: timedelta = timedelta(seconds=1)
    # The panic switch's TOTP secret (base32). Unless the operator sets it, one is generated
    # and can be shown once (GET /api/admin/panic/setup) until an admin confirms it.
    panic_totp_secret: str = field(default_factory=pyotp.random_base32, repr=False)
    panic_secret_from_operator: bool = False
    # Fernet keys for exchange credentials at rest, newest first (the first one encrypts).
    master_keys: tuple[str, ...] = field(default_factory=lambda: (_new_master_key(),), repr=False)
    # Exchange id -> origin every API URL of that exchange goes to (stubs, proxies).
    ccxt_api_origins: Mapping[str, str] = field(default_factory=dict)
    # An unchecked connection's validation is tried again after this long.
    validation_retry: timedelta = timedelta(seconds=60)
    # Operations: log format and level, the metrics endpoint (off, or behind a bearer
    # token), a metrics port for processes without HTTP (worker, scheduler, bot).
    log_format: str = "text"
    log_level: str = "INFO"
    metrics_enabled: bool = True
    metrics_token: str | None = field(default=None, repr=False)
    metrics_port: int | None = None
    # The label of this host's outgoing address on the request-weight gauge.
    egress_ip: str = "default"
    # OTLP/HTTP collector (e.g. http://otel-collector:4318) for traces; none by default.
    otel_endpoint: str | None = None

    @property
    def embedded(self) -> bool:
        """No Redis: the worker runs inside the HTTP process on an in-memory broker."""
        return self.redis_url is None

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def rate_limit_key_prefix(self) -> str:
        return self.rate_limit_prefix or f"{self.queue_name}:ratelimit:"

    @property
    def stream_key_prefix(self) -> str:
        """Redis keys of the account streams' leases and holders."""
        return f"{self.queue_name}:streams:"

    @property
    def plisio_callback_url(self) -> str:
        # json=true: Plisio then posts JSON and signs it the way the callback check expects.
        return f"{self.base_url.rstrip('/')}/api/payments/plisio/callback?json=true"

    @classmethod
    def from_env(cls) -> "Settings":
        var_dir = Path(os.environ.get("MIMIC_VAR_DIR", str(DEFAULT_VAR_DIR)))
        database_url = os.environ.get("MIMIC_DATABASE_URL") or (
            f"sqlite+aiosqlite:///{var_dir / 'mimic.db'}"
        )
        jwt_secret = os.environ.get("MIMIC_SECRET_KEY") or _secret_file(var_dir / "secret_key")
        panic_secret = os.environ.get("MIMIC_PANIC_TOTP_SECRET") or None
        return cls(
            database_url=database_url,
            redis_url=os.environ.get("MIMIC_REDIS_URL") or None,
            host=os.environ.get("MIMIC_HOST", "127.0.0.1"),
            port=_int("MIMIC_PORT", 8000),
            public_url=os.environ.get("MIMIC_PUBLIC_URL") or None,
            jwt_secret=jwt_secret,
            admin_password=os.environ.get("MIMIC_ADMIN_PASSWORD") or None,
            webhook_passphrase=os.environ.get("MIMIC_WEBHOOK_PASSPHRASE") or None,
            dedupe_window=timedelta(seconds=_int("MIMIC_DEDUPE_WINDOW_SECONDS", 60)),
            max_signal_age=timedelta(seconds=_int("MIMIC_MAX_SIGNAL_AGE_SECONDS", 300)),
            intent_lease=timedelta(seconds=_int("MIMIC_INTENT_LEASE_SECONDS", 60)),
            sweep_interval=timedelta(seconds=_int("MIMIC_SWEEP_INTERVAL_SECONDS", 15)),
            fanout_concurrency=_int("MIMIC_FANOUT_CONCURRENCY", 64),
            fanout_parts=_fanout_parts(),
            worker_nice=_worker_nice(),
            paper_starting_balance=Decimal(os.environ.get("MIMIC_PAPER_BALANCE", "10000")),
            paper_latency=timedelta(milliseconds=_int("MIMIC_PAPER_LATENCY_MS", 0)),
            paper_concurrency=_int("MIMIC_PAPER_CONCURRENCY", 1000),
            queue_name=os.environ.get("MIMIC_QUEUE_NAME", "mimic:signals"),
            redis_idle_timeout=timedelta(seconds=_int("MIMIC_REDIS_IDLE_TIMEOUT_SECONDS", 60)),
            smtp_host=os.environ.get("MIMIC_SMTP_HOST") or None,
            smtp_port=_int("MIMIC_SMTP_PORT", 587),
            smtp_tls=_choice("MIMIC_SMTP_TLS", TLS_MODES, "starttls"),
            smtp_username=os.environ.get("MIMIC_SMTP_USERNAME") or None,
            smtp_password=os.environ.get("MIMIC_SMTP_PASSWORD") or None,
            mail_from=os.environ.get("MIMIC_MAIL_FROM") or "mimic@localhost",
            password_reset_lifetime=timedelta(minutes=_int("MIMIC_PASSWORD_RESET_MINUTES", 30)),
            rate_limits=_rate_limits(),
            rate_limit_prefix=os.environ.get("MIMIC_RATE_LIMIT_PREFIX") or None,
            lockout=LockoutPolicy(
                threshold=_int("MIMIC_LOGIN_LOCKOUT_THRESHOLD", 5),
                first_lock=timedelta(seconds=_int("MIMIC_LOGIN_LOCKOUT_SECONDS", 60)),
                longest_lock=timedelta(seconds=_int("MIMIC_LOGIN_LOCKOUT_MAX_SECONDS", 1800)),
            ),
            password_hash_concurrency=_int("MIMIC_PASSWORD_HASH_CONCURRENCY", 2),
            quotas=Quotas(
                invoices_per_hour=_int("MIMIC_QUOTA_INVOICES_PER_HOUR", 10),
                messages_per_hour=_int("MIMIC_QUOTA_MESSAGES_PER_HOUR", 60),
                exchange_connections=_int("MIMIC_QUOTA_EXCHANGE_CONNECTIONS", 10),
            ),
            cors_origins=_list("MIMIC_CORS_ORIGINS"),
            trusted_proxies=_list("MIMIC_TRUSTED_PROXIES"),
            webhook_allowed_ips=_networks("MIMIC_WEBHOOK_ALLOWED_IPS"),
            cookie_secure=(
                _bool("MIMIC_COOKIE_SECURE", False)
                if os.environ.get("MIMIC_COOKIE_SECURE")
                else None
            ),
            plisio_api_key=os.environ.get("MIMIC_PLISIO_API_KEY") or None,
            plisio_base_url=os.environ.get("MIMIC_PLISIO_BASE_URL") or "https://api.plisio.net",
            plisio_timeout=timedelta(seconds=_int("MIMIC_PLISIO_TIMEOUT_SECONDS", 10)),
            plisio_invoice_expire_min=_int("MIMIC_PLISIO_INVOICE_EXPIRE_MIN", 60),
            require_subscription=_bool("MIMIC_REQUIRE_SUBSCRIPTION", False),
            referral_commission_perc=Decimal(
                os.environ.get("MIMIC_REFERRAL_COMMISSION_PERCENT") or "10"
            ),
            subscription_check_interval=timedelta(
                seconds=_int("MIMIC_SUBSCRIPTION_CHECK_SECONDS", 60)
            ),
            monitor_interval=timedelta(seconds=_int("MIMIC_MONITOR_INTERVAL_SECONDS", 5)),
            master_poll_interval=timedelta(seconds=_int("MIMIC_MASTER_POLL_SECONDS", 3)),
            trailing_key_prefix=os.environ.get("MIMIC_TRAILING_KEY_PREFIX", "mimic:trailing:"),
            live_channel_prefix=os.environ.get("MIMIC_LIVE_CHANNEL_PREFIX", "mimic:live:"),
            account_streams=_bool("MIMIC_ACCOUNT_STREAMS", True),
            streamed_positions=_bool("MIMIC_STREAMED_POSITIONS", True),
            stream_lease=timedelta(seconds=_int("MIMIC_STREAM_LEASE_SECONDS", 15)),
            stream_reconcile_interval=timedelta(
                seconds=_int("MIMIC_STREAM_RECONCILE_SECONDS", 300)
            ),
            paper_events_poll=timedelta(milliseconds=_int("MIMIC_PAPER_EVENTS_POLL_MS", 250)),
            stream_connects_per_5min=_int("MIMIC_STREAM_CONNECTS_PER_5MIN", 250),
            stream_record_batch=_at_least_one("MIMIC_STREAM_RECORD_BATCH", RECORD_BATCH),
            stream_flat_grace=timedelta(milliseconds=_int("MIMIC_STREAM_FLAT_GRACE_MS", 2000)),
            portfolio_sync_interval=timedelta(seconds=_int("MIMIC_PORTFOLIO_SYNC_SECONDS", 60)),
            telegram_bot_token=os.environ.get("MIMIC_TELEGRAM_BOT_TOKEN") or None,
            telegram_api_url=os.environ.get("MIMIC_TELEGRAM_API_URL") or "https://api.telegram.org",
            telegram_bot_username=os.environ.get("MIMIC_TELEGRAM_BOT_USERNAME") or None,
            telegram_webhook_secret=os.environ.get("MIMIC_TELEGRAM_WEBHOOK_SECRET") or None,
            notify_interval=timedelta(milliseconds=_int("MIMIC_NOTIFY_INTERVAL_MS", 1000)),
            panic_totp_secret=panic_secret
            or _secret_file(var_dir / "panic_totp_secret", pyotp.random_base32),
            panic_secret_from_operator=panic_secret is not None,
            master_keys=_master_keys(os.environ.get("MIMIC_MASTER_KEYS"), var_dir),
            ccxt_api_origins=_origins(os.environ.get("MIMIC_CCXT_URL_OVERRIDES")),
            validation_retry=timedelta(seconds=_int("MIMIC_VALIDATION_RETRY_SECONDS", 60)),
            log_format=_choice("MIMIC_LOG_FORMAT", LOG_FORMATS, "text"),
            log_level=_choice("MIMIC_LOG_LEVEL", LOG_LEVELS, "INFO"),
            metrics_enabled=_bool("MIMIC_METRICS_ENABLED", True),
            metrics_token=os.environ.get("MIMIC_METRICS_TOKEN") or None,
            metrics_port=_int("MIMIC_METRICS_PORT", 0) or None,
            egress_ip=os.environ.get("MIMIC_EGRESS_IP") or "default",
            otel_endpoint=os.environ.get("MIMIC_OTEL_ENDPOINT") or None,
        )
