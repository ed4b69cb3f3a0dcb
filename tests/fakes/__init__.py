"""In-memory adapters for the ports: fast unit tests with no sockets and no database.

These are adapters, not mocks: each subclasses the Protocol it implements and behaves like
the real thing in the ways the application relies on (unique constraints, leases, copies
in and out). Repositories store and hand out deep copies, as a database would, so a test
cannot pass because an interactor and a repository share one object.

One module per port module of `mimic.ports`, named after it (`tests/fakes/exchange.py`
implements `mimic.ports.exchange`). `mimic.ports.repositories` is too large for one module:
its fakes are `tests/fakes/repositories/`, one module per repository, named like the SQL
adapter module in `mimic.adapters.sqlalchemy` that implements the same port.
"""
