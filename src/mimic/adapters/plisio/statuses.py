"""Plisio's invoice status words as ours."""

from mimic.domain.payments import InvoiceStatus


def invoice_status(word: str) -> InvoiceStatus | None:
    """Plisio's status word as ours; "mismatch" means overpaid, which pays in full.

    "pending internal" (money moving to the merchant's wallet) is still pending.
    None for a word Plisio does not document.
    """
    word = word.strip().lower()
    if word == "mismatch":
        return InvoiceStatus.COMPLETED
    if word.startswith("pending"):
        return InvoiceStatus.PENDING
    try:
        return InvoiceStatus(word)
    except ValueError:
        return None
