"""Signal sources (masters) for the admin: list, create, change, rotate, delete."""

from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, JSONBody

from mimic.application.signal_sources import (
    IssuedSource,
    ManageSignalSources,
    SourceChanges,
)
from mimic.domain.accounts import SignalSource, TradeDirection, User
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.contract import errors
from mimic.entrypoints.http.security import admin_only
from mimic.entrypoints.http.sources.schemas import SourceChange, SourceCreate, SourceOut
from mimic.entrypoints.http.web_security import request_context


class IssuedSourceOut(SourceOut):
    """Carries the passphrase: answered once, when it is made, and never again."""

    passphrase: str


def _out(source: SignalSource) -> SourceOut:
    return SourceOut(source.id, source.name, source.active, source.direction.value)


def _issued(issued: IssuedSource) -> IssuedSourceOut:
    s = issued.source
    return IssuedSourceOut(s.id, s.name, s.active, s.direction.value, issued.passphrase)


class SourceController(Controller):
    path = "/api/admin/sources"
    guards = [admin_only]  # noqa: RUF012

    @get("/", operation_id="admin_list_sources")
    async def list_sources(self, manage: FromDishka[ManageSignalSources]) -> list[SourceOut]:
        return [_out(s) for s in await manage.list_all()]

    @post("/", operation_id="admin_create_source", status_code=201, responses=errors(409))
    async def create(
        self,
        request: Request[User, Any, Any],
        data: JSONBody[SourceCreate],
        manage: FromDishka[ManageSignalSources],
        settings: FromDishka[Settings],
    ) -> IssuedSourceOut:
        issued = await manage.create(
            data.name, TradeDirection(data.direction), request_context(request, settings)
        )
        return _issued(issued)

    @patch("/{source_id:str}", operation_id="admin_change_source", responses=errors(409))
    async def change(
        self,
        request: Request[User, Any, Any],
        source_id: FromPath[str],
        data: JSONBody[SourceChange],
        manage: FromDishka[ManageSignalSources],
        settings: FromDishka[Settings],
    ) -> SourceOut:
        changes = SourceChanges(
            name=data.name,
            active=data.active,
            direction=TradeDirection(data.direction) if data.direction else None,
        )
        return _out(await manage.change(source_id, changes, request_context(request, settings)))

    @post("/{source_id:str}/rotate", operation_id="admin_rotate_source", status_code=200)
    async def rotate(
        self,
        request: Request[User, Any, Any],
        source_id: FromPath[str],
        manage: FromDishka[ManageSignalSources],
        settings: FromDishka[Settings],
    ) -> IssuedSourceOut:
        return _issued(await manage.rotate(source_id, request_context(request, settings)))

    @delete(
        "/{source_id:str}",
        operation_id="admin_delete_source",
        status_code=204,
        responses=errors(409),
    )
    async def remove(
        self,
        request: Request[User, Any, Any],
        source_id: FromPath[str],
        manage: FromDishka[ManageSignalSources],
        settings: FromDishka[Settings],
    ) -> None:
        await manage.delete(source_id, request_context(request, settings))
