"""In-memory adapters of mimic.ports.repositories, one module per repository."""
