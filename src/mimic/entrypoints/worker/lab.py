"""The worker task that replays a lab run started from the web console."""

import logging

from dishka.integrations.taskiq import FromDishka, inject

from mimic.application.replay import RunLab

log = logging.getLogger(__name__)


@inject(patch_module=True)
async def run_lab(run_id: str, interactor: FromDishka[RunLab]) -> None:
    status = await interactor(run_id)
    log.info("lab run %s: %s", run_id, status or "not pending, nothing to do")
