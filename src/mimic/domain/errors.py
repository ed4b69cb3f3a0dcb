"""Domain errors: each carries a message a person can act on."""


class DomainError(Exception):
    """Base of every rule violation the domain reports."""


class InvalidField(DomainError):
    """A value given by a caller is malformed or out of range."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class CallbackRefused(InvalidField):
    """A payment provider's callback that cannot be believed; keeps what it claimed (for
    the audit trail), which nothing may act upon."""

    def __init__(
        self,
        field: str,
        message: str,
        *,
        order_number: str | None = None,
        txn_id: str | None = None,
        status: str | None = None,
    ) -> None:
        super().__init__(field, message)
        self.order_number = order_number
        self.txn_id = txn_id
        self.status = status


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to the caller)."""


class Conflict(DomainError):
    """The request contradicts the current state (duplicate, wrong status, ...)."""


class PermissionDenied(DomainError):
    """The caller is authenticated but not allowed to do this."""


class AuthenticationFailed(DomainError):
    """Credentials or a passphrase did not match."""


class InvalidCode(DomainError):
    """A one-time code (password reset) is unknown, used or expired."""


class TooManyRequests(DomainError):
    """The caller went over a rate limit or the account is locked for a while."""

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = max(1, retry_after_seconds)


class DeliveryFailed(DomainError):
    """A message (mail, chat) could not be handed to its carrier."""


class SecretUnreadable(DomainError):
    """A stored secret cannot be decrypted with the configured keys, or belongs elsewhere."""


class ExchangeError(DomainError):
    """An exchange refused or failed an operation; `reason` is kept for the follower."""

    retryable = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InsufficientMargin(ExchangeError):
    pass


class BelowMinNotional(ExchangeError):
    pass


class InvalidPrecision(ExchangeError):
    pass


class ReduceOnlyRejected(ExchangeError):
    pass


class DuplicateClientOrderId(ExchangeError):
    pass


class AuthRejected(ExchangeError):
    pass


class UnknownSymbol(ExchangeError):
    pass


class OrderRejected(ExchangeError):
    """Any other definitive refusal."""


class RateLimited(ExchangeError):
    retryable = True

    def __init__(self, reason: str, retry_after_seconds: float = 1.0) -> None:
        super().__init__(reason)
        self.retry_after_seconds = retry_after_seconds


class ExchangeUnavailable(ExchangeError):
    """The exchange could not be reached and certainly did not act."""

    retryable = True


class OutcomeUnknown(ExchangeError):
    """The request may or may not have been executed (timeout, 5xx, -1007)."""

    retryable = True


class PaymentProviderError(DomainError):
    """The payment provider (Plisio) was unreachable or refused; nothing was changed here."""


class PaymentsNotConfigured(DomainError):
    """Payments need a provider API key that this installation does not have."""
