"""The MultiFernet secret box and where its keys come from (no sockets, no database)."""

import stat
from pathlib import Path

import pytest

from mimic.adapters.crypto import FernetSecretBox, generate_key
from mimic.domain.accounts import ApiCredentials
from mimic.domain.errors import SecretUnreadable
from mimic.entrypoints.config import Settings

CREDENTIALS = ApiCredentials("the-api-key-0123", "the-api-secret-4567", "pass")


def test_a_token_opens_only_for_its_user_and_connection() -> None:
    box = FernetSecretBox([generate_key()])
    token = box.seal(CREDENTIALS, user_id="u1", account_id="a1")

    assert box.open(token, user_id="u1", account_id="a1") == CREDENTIALS
    assert "the-api-secret" not in token
    for user_id, account_id in (("u2", "a1"), ("u1", "a2")):
        with pytest.raises(SecretUnreadable, match="another connection") as caught:
            box.open(token, user_id=user_id, account_id=account_id)
        assert "the-api-secret" not in str(caught.value)


def test_a_tampered_token_or_an_unknown_key_fails_without_details() -> None:
    box = FernetSecretBox([generate_key()])
    token = box.seal(CREDENTIALS, user_id="u1", account_id="a1")
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    for candidate, reader in ((tampered, box), (token, FernetSecretBox([generate_key()]))):
        with pytest.raises(SecretUnreadable, match="cannot be decrypted"):
            reader.open(candidate, user_id="u1", account_id="a1")


def test_rotation_moves_tokens_to_the_newest_key_and_keeps_the_binding() -> None:
    old, new = generate_key(), generate_key()
    token = FernetSecretBox([old]).seal(CREDENTIALS, user_id="u1", account_id="a1")
    both = FernetSecretBox([new, old])

    rotated = both.rotate(token, user_id="u1", account_id="a1")

    assert rotated is not None
    assert FernetSecretBox([new]).open(rotated, user_id="u1", account_id="a1") == CREDENTIALS
    assert both.rotate(rotated, user_id="u1", account_id="a1") is None
    with pytest.raises(SecretUnreadable):
        both.rotate(token, user_id="u2", account_id="a1")


def test_a_malformed_master_key_is_named_by_position_never_echoed() -> None:
    with pytest.raises(ValueError, match="master key #2") as caught:
        FernetSecretBox([generate_key(), "not-a-key-but-a-secret"])
    assert "not-a-key-but-a-secret" not in str(caught.value)
    assert "keys hidden" in repr(FernetSecretBox([generate_key()]))


def test_master_keys_from_the_environment_or_a_private_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIMIC_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("MIMIC_SECRET_KEY", "jwt")
    monkeypatch.delenv("MIMIC_MASTER_KEYS", raising=False)
    generated = Settings.from_env().master_keys
    key_file = tmp_path / "master_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert generated == (key_file.read_text(),)
    assert Settings.from_env().master_keys == generated  # kept across restarts
    FernetSecretBox(generated)

    new, old = generate_key(), generate_key()
    monkeypatch.setenv("MIMIC_MASTER_KEYS", f" {new} , {old} ")
    monkeypatch.setenv("MIMIC_CCXT_URL_OVERRIDES", "binanceusdm=http://127.0.0.1:8123")
    settings = Settings.from_env()
    assert settings.master_keys == (new, old)
    assert settings.ccxt_api_origins == {"binanceusdm": "http://127.0.0.1:8123"}
    assert new not in repr(settings)
