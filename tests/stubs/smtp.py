"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, with TLS if asked."""

import asyncio
import datetime
import ipaddress
import socket
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class Inbox:
    """Mails as (recipient, subject, body), handed from the server thread to the test loop."""

    def __init__(self) -> None:
        self.mails: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        message = message_from_bytes(envelope.original_content or b"")
        body = message.get_payload(decode=True)
        assert isinstance(body, bytes)
        item = (envelope.rcpt_tos[0], str(message["Subject"]), body.decode())
        self._loop.call_soon_threadsafe(self.mails.put_nowait, item)
        return "250 OK"

    async def next(self, within: float = 10.0) -> tuple[str, str, str]:
        return await asyncio.wait_for(self.mails.get(), within)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(inbox: Inbox, **options: Any) -> Iterator[int]:
    """`options` go to aiosmtpd's Controller (tls_context, ssl_context, authenticator...)."""
    port = free_port()  # aiosmtpd checks readiness by connecting: no port 0
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def self_signed_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context that trusts exactly that server's certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert_file.write_bytes(pem)
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=pem.decode())
    return server, client


def password_authenticator(username: str, password: str) -> Any:
    def authenticate(
        server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            username.encode(),
            password.encode(),
        )
        # handled=False: the server answers a refusal itself (535); aiosmtpd's default
        # (handled=True) sends nothing, and the client would wait out its timeout.
        return AuthResult(success=ok, handled=False)

    return authenticate
