"""`mimic worker` below the intake on shared cores (MIMIC_WORKER_NICE).

The webhook's answer is what TradingView waits for; a fan-out is throughput work. Linux
schedules each session as one entity when autogrouping is on (the default of most
distributions' kernels): a process's own niceness then only counts against the processes of
its session, and a service (a session of its own) competes as its session's niceness says.
So a worker lowers both: its own, and its session's when it leads one (a service; never an
operator's shell session). Under a CPU controller (systemd's CPUWeight=, containers'
cpu_shares) neither crosses cgroups: the weights do that there.
"""

import os
from pathlib import Path

AUTOGROUP = Path("/proc/self/autogroup")


def lower_priority(nice: int) -> None:
    """This process (and the session it leads) at niceness `nice`, unless already lower: an
    unprivileged process may not take back a priority it was given up. Before any thread
    starts, as on Linux each thread has its own niceness and inherits its creator's."""
    if nice > os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    if os.getsid(0) == os.getpid():
        _lower_autogroup(nice)


def _lower_autogroup(nice: int) -> None:
    try:
        current = int(AUTOGROUP.read_text().split()[-1])  # "/autogroup-101 nice 0"
        if nice > current:
            AUTOGROUP.write_text(str(nice))
    except (OSError, ValueError, IndexError):
        return  # no autogrouping in this kernel: the process's own niceness stands
