"""A master's own exchange account on a signal source, for the admin."""

from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromPath, JSONBody

from mimic.application.master_accounts import (
    AttachMasterCommand,
    CopyMasterFills,
    ManageMasterAccounts,
)
from mimic.domain.accounts import User
from mimic.domain.master_fills import MasterAccount
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.contract import errors
from mimic.entrypoints.http.master_accounts.schemas import (
    MasterAccountIn,
    MasterAccountOut,
    MasterPollOut,
)
from mimic.entrypoints.http.security import admin_only
from mimic.entrypoints.http.web_security import request_context


def _out(master: MasterAccount) -> MasterAccountOut:
    return MasterAccountOut(
        id=master.id,
        source_id=master.source_id,
        exchange=master.exchange,
        symbols=list(master.symbols),
        api_key_masked=master.api_key_masked,
        warning=master.permission_warning,
    )


class MasterAccountController(Controller):
    path = "/api/admin/sources"
    guards = [admin_only]  # noqa: RUF012

    @put(
        "/{source_id:str}/account",
        operation_id="admin_attach_master_account",
        status_code=201,
        responses=errors(409),  # the source has an account already
    )
    async def attach(
        self,
        request: Request[User, Any, Any],
        source_id: FromPath[str],
        data: JSONBody[MasterAccountIn],
        manage: FromDishka[ManageMasterAccounts],
        settings: FromDishka[Settings],
    ) -> MasterAccountOut:
        command = AttachMasterCommand(
            source_id=source_id,
            exchange=data.exchange,
            symbols=data.symbols,
            api_key=data.api_key,
            api_secret=data.api_secret,
            password=data.password,
        )
        return _out(await manage.attach(command, request_context(request, settings)))

    @get("/{source_id:str}/account", operation_id="admin_get_master_account")
    async def read(
        self, source_id: FromPath[str], manage: FromDishka[ManageMasterAccounts]
    ) -> MasterAccountOut:
        return _out(await manage.get(source_id))

    @delete("/{source_id:str}/account", operation_id="admin_detach_master_account", status_code=204)
    async def detach(
        self,
        request: Request[User, Any, Any],
        source_id: FromPath[str],
        manage: FromDishka[ManageMasterAccounts],
        settings: FromDishka[Settings],
    ) -> None:
        await manage.detach(source_id, request_context(request, settings))

    @post("/accounts/poll", operation_id="admin_poll_master_accounts", status_code=200)
    async def poll(self, copy: FromDishka[CopyMasterFills]) -> MasterPollOut:
        """One read of every master's account now (demos, tests, operators)."""
        return MasterPollOut(signals=await copy())
