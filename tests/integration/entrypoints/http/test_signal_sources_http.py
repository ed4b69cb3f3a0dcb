"""Signal sources over HTTP and the CLI: create, rotate, pause, one-sided, delete."""

import pytest

from mimic.entrypoints.cli import main
from tests.integration.harness import PASSPHRASE, make_settings, running_platform


async def test_admin_manages_sources_and_the_webhook_follows(database_url: str) -> None:
    async with running_platform(make_settings(database_url)) as api:
        admin = api.auth(api.admin_token)
        await api.set_price("ETHUSDT", "3000")
        created = await api.client.post(
            "/api/admin/sources", json={"name": "Swing", "direction": "long_only"}, headers=admin
        )
        assert created.status_code == 201, created.text
        source = created.json()
        first = source.pop("passphrase")
        listed = (await api.client.get("/api/admin/sources", headers=admin)).json()
        assert source in listed
        assert first not in str(listed)

        async def post(passphrase: str, action: str, **extra: str) -> int:
            response = await api.client.post(
                "/webhook",
                json={"passphrase": passphrase, "symbol": "ETHUSDT", "action": action, **extra},
            )
            return response.status_code

        assert await post(first, "sell", id="a") == 202
        signals = (await api.client.get("/api/signals", headers=admin)).json()
        assert [s["action"] for s in signals] == ["close"]  # long-only: a sell closes

        rotated = await api.client.post(f"/api/admin/sources/{source['id']}/rotate", headers=admin)
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()["passphrase"]
        assert await post(first, "buy", id="b") == 401
        assert await post(second, "buy", id="b") == 202

        paused = await api.client.patch(
            f"/api/admin/sources/{source['id']}", json={"active": False}, headers=admin
        )
        assert paused.json()["active"] is False
        assert await post(second, "buy", id="c") == 401
        assert await post(PASSPHRASE, "buy", id="c") == 202  # the default source is untouched

        refused = await api.client.delete(f"/api/admin/sources/{source['id']}", headers=admin)
        assert refused.status_code == 409
        assert "pause it instead" in refused.json()["detail"]
        unused = (
            await api.client.post("/api/admin/sources", json={"name": "spare"}, headers=admin)
        ).json()
        deleted = await api.client.delete(f"/api/admin/sources/{unused['id']}", headers=admin)
        assert deleted.status_code == 204
        names = [
            s["name"] for s in (await api.client.get("/api/admin/sources", headers=admin)).json()
        ]
        assert names == ["Swing", "default"]

        bad = await api.client.post(
            "/api/admin/sources", json={"name": "x", "direction": "sideways"}, headers=admin
        )
        assert bad.status_code == 422
        follower = await api.register("fiona")
        forbidden = await api.client.get("/api/admin/sources", headers=api.auth(follower))
        assert forbidden.status_code == 403


def test_the_cli_creates_rotates_and_lists_sources(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MIMIC_DATABASE_URL", sqlite_url)
    main(["migrate"])
    capsys.readouterr()
    main(["sources", "create", "scalper", "--direction", "short_only"])
    line, passphrase_line = capsys.readouterr().out.strip().splitlines()
    source_id = line.split()[0]
    assert line.endswith("scalper  active  short_only")
    assert passphrase_line.startswith("passphrase (shown once): ")
    main(["sources", "rotate", source_id])
    rotated = capsys.readouterr().out.strip().splitlines()[1]
    assert rotated != passphrase_line
    main(["sources", "pause", source_id])
    main(["sources", "list"])
    out = capsys.readouterr().out
    assert f"{source_id}  scalper  paused  short_only" in out
    assert "passphrase" not in out.splitlines()[-1]
    with pytest.raises(SystemExit):
        main(["sources", "rotate", "no-such-id"])
    assert "not found" in capsys.readouterr().err


def test_the_banner_prints_no_passphrase_that_is_not_in_force(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MIMIC_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("MIMIC_WEBHOOK_PASSPHRASE", "the-first-passphrase")
    main(["migrate"])
    assert '"passphrase": "the-first-passphrase"' in capsys.readouterr().out
    monkeypatch.setenv("MIMIC_WEBHOOK_PASSPHRASE", "set-after-the-first-start")
    main(["migrate"])
    out = capsys.readouterr().out
    assert "set-after-the-first-start" not in out
    assert "opens no active source" in out
