"""Secrets at rest: exchange credentials under MultiFernet, bound to their connection."""

from mimic.adapters.crypto.secret_box import FernetSecretBox, generate_key
from mimic.adapters.crypto.vault import StoredCredentialVault

__all__ = ["FernetSecretBox", "StoredCredentialVault", "generate_key"]
