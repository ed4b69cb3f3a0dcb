"""dishka provider of the strategy lab's web console runs."""

from dishka import Provider, Scope, provide

from mimic.adapters.lab.queue import TaskiqLabQueue
from mimic.adapters.sqlalchemy.lab_runs import SqlLabRunRepository
from mimic.application.lab_runs import ViewLabRuns
from mimic.application.replay import RunLab
from mimic.application.requeue_lab_run import RequeueLabRun
from mimic.application.start_lab_run import StartLabRun
from mimic.entrypoints.lab import UploadedLab
from mimic.ports.lab import LabEngine, LabQueue, LabRunRepository


class LabProvider(Provider):
    queue = provide(TaskiqLabQueue, provides=LabQueue, scope=Scope.APP)
    engine = provide(UploadedLab, provides=LabEngine, scope=Scope.APP)
    runs = provide(SqlLabRunRepository, provides=LabRunRepository, scope=Scope.REQUEST)
    start = provide(StartLabRun, scope=Scope.REQUEST)
    run = provide(RunLab, scope=Scope.REQUEST)
    requeue = provide(RequeueLabRun, scope=Scope.REQUEST)
    view = provide(ViewLabRuns, scope=Scope.REQUEST)
