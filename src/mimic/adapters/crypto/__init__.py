"""Secrets at rest: exchange credentials under MultiFernet, bound to their connection."""

from mimic.adapters.crypto.secret_box import FernetSecretBox, generate_key

__all__ = ["FernetSecretBox", "generate_key"]
