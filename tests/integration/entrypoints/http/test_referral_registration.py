"""Registering with a referral code over HTTP links the referrer; a wrong code stores nothing."""

from tests.integration.harness import FOLLOWER_PASSWORD, make_settings, running_platform


async def test_referral_code_links_and_an_unknown_code_is_refused(sqlite_url: str) -> None:
    async with running_platform(make_settings(sqlite_url)) as api:
        alice, _ = await api.follower("alice")
        code = (await api.client.get("/api/me", headers=api.auth(alice))).json()["referral_code"]
        assert isinstance(code, str)
        assert len(code) == 10

        wrong = await api.client.post(
            "/api/auth/register",
            json={
                "username": "bob",
                "email": "bob@example.com",
                "password": FOLLOWER_PASSWORD,
                "referral_code": "NOTACODE99",
            },
        )
        assert wrong.status_code == 422, wrong.text
        assert wrong.json()["field"] == "referral_code"
        login = await api.client.post(
            "/api/auth/login", json={"username": "bob", "password": FOLLOWER_PASSWORD}
        )
        assert login.status_code == 401  # nothing was stored

        right = await api.client.post(
            "/api/auth/register",
            json={
                "username": "bob",
                "email": "bob@example.com",
                "password": FOLLOWER_PASSWORD,
                "referral_code": code,
            },
        )
        assert right.status_code == 201, right.text
        assert right.json()["referral_code"] not in (None, code)
