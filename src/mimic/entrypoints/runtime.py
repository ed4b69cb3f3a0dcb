"""Tuning of the long-running processes (HTTP server, worker) once they are set up."""

import gc

# First-generation collections every 10,000 net allocations instead of 700: a fan-out to
# thousands of followers allocates in bursts, and most of it is freed by reference counting
# anyway; the older generations keep CPython's defaults.
GC_THRESHOLDS = (10_000, 10, 10)


def tune_garbage_collector() -> None:
    """Freeze what start-up left alive and collect young objects less often.

    Imports and the app's set-up leave some 200,000 long-lived objects that each full
    collection would walk again; frozen, they are skipped. Measured on a fan-out to 10,000
    paper followers: about a third less CPU, a few MB more memory.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
