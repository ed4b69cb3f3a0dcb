"""SecretBox on cryptography's MultiFernet (AES-128-CBC + HMAC-SHA256, key rotation).

The binding to a connection lives inside the authenticated plaintext: the token carries
the user id and the connection id next to the secrets, and `open` refuses a token whose
ids differ from the row it was read from. A token copied to another row therefore fails,
and rotation needs nothing but MultiFernet's own re-encryption (the ids travel with it).
"""

import json
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from mimic.domain.accounts import ApiCredentials
from mimic.domain.errors import SecretUnreadable
from mimic.ports.credentials import SecretBox

_FORMAT = 1


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


class FernetSecretBox(SecretBox):
    def __init__(self, keys: Sequence[str]) -> None:
        """`keys`: Fernet keys, newest first; the newest encrypts, all of them decrypt."""
        if not keys:
            raise ValueError("at least one master key is needed")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip().encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                # Never echo the key: say which one is malformed.
                raise ValueError(
                    f"master key #{position} is not a Fernet key (32 url-safe base64 bytes)"
                ) from None
        self._newest = fernets[0]
        self._all = MultiFernet(fernets)

    def __repr__(self) -> str:
        return "FernetSecretBox(<keys hidden>)"

    def seal(self, credentials: ApiCredentials, *, user_id: str, account_id: str) -> str:
        plaintext = json.dumps(
            {
                "v": _FORMAT,
                "user": user_id,
                "account": account_id,
                "api_key": credentials.api_key,
                "api_secret": credentials.api_secret,
                "password": credentials.password,
            },
            separators=(",", ":"),
        ).encode()
        return self._newest.encrypt(plaintext).decode("ascii")

    def open(self, token: str, *, user_id: str, account_id: str) -> ApiCredentials:
        body = self._bound_plaintext(self._decrypt(token, self._all), user_id, account_id)
        try:
            return ApiCredentials(
                api_key=str(body["api_key"]),
                api_secret=str(body["api_secret"]),
                password=None if body.get("password") is None else str(body["password"]),
            )
        except KeyError:
            raise SecretUnreadable(
                f"stored credentials of connection {account_id} are incomplete"
            ) from None

    def rotate(self, token: str, *, user_id: str, account_id: str) -> str | None:
        try:
            current = self._newest.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            plaintext = self._decrypt(token, self._all)
            self._bound_plaintext(plaintext, user_id, account_id)
            return self._newest.encrypt(plaintext).decode("ascii")
        self._bound_plaintext(current, user_id, account_id)
        return None

    @staticmethod
    def _decrypt(token: str, fernet: Fernet | MultiFernet) -> bytes:
        try:
            return fernet.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise SecretUnreadable(
                "stored credentials cannot be decrypted with the configured master keys"
            ) from None

    @staticmethod
    def _bound_plaintext(plaintext: bytes, user_id: str, account_id: str) -> dict[str, object]:
        try:
            body = json.loads(plaintext)
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("v") != _FORMAT:
            raise SecretUnreadable(f"stored credentials of connection {account_id} are malformed")
        if body.get("user") != user_id or body.get("account") != account_id:
            raise SecretUnreadable(
                f"stored credentials of connection {account_id} belong to another connection"
            )
        return body
