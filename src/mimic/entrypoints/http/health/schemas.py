"""Wire shapes of the health routes."""

import msgspec


class Health(msgspec.Struct):
    status: str
