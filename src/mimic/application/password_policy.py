"""What a password must be: long enough, not too long, not a well-known one."""

import functools
import gzip
from importlib import resources

from mimic.domain.errors import InvalidField

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


@functools.cache
def common_passwords() -> frozenset[str]:
    """About 20,000 most common passwords (the list Django ships, from Royce Williams'
    breach compilation), lower-cased."""
    data = resources.files(__package__).joinpath("common_passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().lower().split())


def check_password_policy(password: str, field: str = "password") -> None:
    """Raises `InvalidField` saying why a password is refused."""
    if not password.strip():
        raise InvalidField(field, "must not be only whitespace")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidField(field, f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidField(field, f"must be at most {MAX_PASSWORD_LENGTH} characters")
    if password.lower() in common_passwords():
        raise InvalidField(field, "is one of the most common passwords; choose another")
