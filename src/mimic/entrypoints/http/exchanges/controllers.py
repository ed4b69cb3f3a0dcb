"""A follower's exchange connections: connect, list, enable, delete."""

from dishka.integrations.litestar import FromDishka
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from mimic.application.exchange_connections import (
    ConnectExchange,
    ConnectExchangeCommand,
    ListConnections,
    ManageConnection,
)
from mimic.entrypoints.http.contract import errors
from mimic.entrypoints.http.exchanges.schemas import (
    ConnectExchangeRequest,
    EnablePatch,
    ExchangeOut,
)
from mimic.entrypoints.http.exchanges.views import exchange_out
from mimic.entrypoints.http.security import AuthRequest


class ExchangeController(Controller):
    path = "/api/exchanges"

    @post("/", operation_id="connect_exchange", status_code=201, responses=errors(429))
    async def connect(
        self,
        request: AuthRequest,
        data: JSONBody[ConnectExchangeRequest],
        connect: FromDishka[ConnectExchange],
    ) -> ExchangeOut:
        account = await connect(
            ConnectExchangeCommand(
                user_id=request.user.id,
                exchange=data.exchange,
                label=data.label,
                api_key=data.api_key,
                api_secret=data.api_secret,
                password=data.password,
            )
        )
        return exchange_out(account)

    @get("/", operation_id="list_my_exchanges")
    async def list_mine(
        self, request: AuthRequest, connections: FromDishka[ListConnections]
    ) -> list[ExchangeOut]:
        return [exchange_out(a) for a in await connections(request.user.id)]

    @patch("/{account_id:str}", operation_id="set_exchange_enabled")
    async def set_enabled(
        self,
        request: AuthRequest,
        account_id: FromPath[str],
        data: JSONBody[EnablePatch],
        manage: FromDishka[ManageConnection],
    ) -> ExchangeOut:
        account = await manage.set_enabled(request.user.id, account_id, data.enabled)
        return exchange_out(account)

    @delete("/{account_id:str}", operation_id="delete_exchange", status_code=HTTP_204_NO_CONTENT)
    async def remove(
        self, request: AuthRequest, account_id: FromPath[str], manage: FromDishka[ManageConnection]
    ) -> None:
        await manage.delete(request.user.id, account_id)
