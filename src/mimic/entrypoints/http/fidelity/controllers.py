"""GET /api/fidelity: a period's copy fidelity (docs/copy-fidelity.md)."""

from typing import Annotated

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get
from litestar.openapi.spec import OpenAPIType

from mimic.application.copy_fidelity import ViewCopyFidelity
from mimic.domain.fidelity import FidelityPeriod
from mimic.entrypoints.http.contract import SourceQuery, errors, parsed_query
from mimic.entrypoints.http.fidelity.schemas import FidelityOut
from mimic.entrypoints.http.fidelity.views import fidelity_out
from mimic.entrypoints.http.security import AuthRequest


class FidelityController(Controller):
    path = "/api/fidelity"

    @get("/", operation_id="get_copy_fidelity", responses=errors(422))
    async def fidelity(
        self,
        request: AuthRequest,
        view: FromDishka[ViewCopyFidelity],
        period: Annotated[
            str, parsed_query(type=OpenAPIType.STRING, enum=[p.value for p in FidelityPeriod])
        ] = FidelityPeriod.WEEK.value,
        source: SourceQuery = None,
    ) -> FidelityOut:
        """Latency and slippage percentiles and misses: platform-wide, and per follower
        (every follower for admins, one's own otherwise)."""
        return fidelity_out(await view(request.user, period, source))
