"""The panic switch's one-time passwords: RFC 6238 TOTP with pyotp."""

from datetime import datetime

import pyotp

from mimic.ports.panic import OneTimePasswords

ISSUER = "Mimic panic"


class Totp(OneTimePasswords):
    def __init__(self, secret: str) -> None:
        self._totp = pyotp.TOTP(secret)

    def matching_step(self, code: str, now: datetime) -> int | None:
        code = code.strip()
        if not code.isdigit():
            return None
        step = self._totp.timecode(now)
        # The code of the current step, or of a neighbour for clock drift.
        for candidate in (step, step - 1, step + 1):
            expected = self._totp.generate_otp(candidate)
            if pyotp.utils.strings_equal(code, expected):
                return int(candidate)
        return None

    def provisioning_uri(self, account_name: str) -> str:
        return str(self._totp.provisioning_uri(name=account_name, issuer_name=ISSUER))
