"""Plisio's callback on the wire: signed JSON, either way Plisio's examples sign it, and its
status words read as ours."""

import pytest

from mimic.adapters.plisio.callbacks import read_callback, signatures
from mimic.adapters.plisio.statuses import invoice_status
from mimic.domain.errors import CallbackRefused
from mimic.domain.payments import InvoiceStatus

KEY = "secret-key"
# Expected signatures computed with `openssl dgst -sha1 -hmac secret-key` over the message.
PLAIN = '"txn_id":"abc","status":"completed","source_amount":"29.00","order_number":"42"'
PLAIN_SIGNATURE = "eebe2b843b81c98f75f76016850906fbc7597357"
# A plan named "Pro — Plus 中文" and an amount sent as 29.50.
NON_ASCII = (
    '"txn_id":"abc","order_number":"42","status":"completed",'
    '"order_name":"Pro — Plus 中文","amount":29.50'
)
RAW_UTF8_SIGNATURE = "5b2719f5b67fbd73bacd5cee8032e18fa5f77e21"  # Plisio's Node example
ESCAPED_SIGNATURE = "edabdb93584e4404f6777030164c8b9520bb2573"  # Plisio's Python SDK


def body(members: str, signature: str) -> bytes:
    return ("{" + members + f',"verify_hash":"{signature}"' + "}").encode()


def test_signatures_match_an_independent_hmac() -> None:
    escaped, raw = signatures(
        {"txn_id": "abc", "amount": 0.5, "confirmations": 3, "comment": "caf\u00e9"}, KEY
    )
    assert escaped == "869d97d6ff7bcbec66b15dc3694870b28bceb538"
    assert raw != escaped


@pytest.mark.parametrize(
    ("members", "signature"),
    [
        (PLAIN, PLAIN_SIGNATURE),
        (NON_ASCII, RAW_UTF8_SIGNATURE),
        (NON_ASCII, ESCAPED_SIGNATURE),
    ],
)
def test_a_callback_signed_either_way_is_believed(members: str, signature: str) -> None:
    callback = read_callback(body(members, signature), "application/json", KEY)
    assert (callback.order_number, callback.txn_id, callback.status) == ("42", "abc", "completed")
    assert callback.invoice_status is InvoiceStatus.COMPLETED


def test_the_signature_covers_the_text_as_sent_in_its_key_order() -> None:
    reordered = '"status":"completed","txn_id":"abc","source_amount":"29.00","order_number":"42"'
    tampered = PLAIN.replace("29.00", "2900.00")
    renumbered = NON_ASCII.replace("29.50", "29.5")  # the number as re-serialised, not as sent
    cases = [
        (reordered, PLAIN_SIGNATURE),
        (tampered, PLAIN_SIGNATURE),
        (renumbered, RAW_UTF8_SIGNATURE),
        (PLAIN, ""),
        (PLAIN, PLAIN_SIGNATURE.upper()),
    ]
    for members, signature in cases:
        with pytest.raises(CallbackRefused) as refused:
            read_callback(body(members, signature), "application/json", KEY)
        assert refused.value.field == "verify_hash"
        assert refused.value.order_number == "42"  # kept for the audit trail, not acted upon
    with pytest.raises(CallbackRefused):
        read_callback(body(PLAIN, PLAIN_SIGNATURE), "application/json", "another-key")


def test_a_signed_callback_missing_a_field_names_it() -> None:
    members = '"txn_id":"abc","status":"completed"'
    (signature, _) = signatures({"txn_id": "abc", "status": "completed"}, KEY)
    with pytest.raises(CallbackRefused) as refused:
        read_callback(body(members, signature), "application/json", KEY)
    assert refused.value.field == "order_number"


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'{"txn_id": "abc"}'])
def test_what_is_not_a_signed_json_object_is_refused(raw: bytes) -> None:
    with pytest.raises(CallbackRefused) as refused:
        read_callback(raw, "application/json", KEY)
    assert refused.value.field == "verify_hash"


def test_form_encoded_callbacks_are_refused_with_the_reason() -> None:
    form = b"txn_id=abc&order_number=42&status=completed&verify_hash=" + PLAIN_SIGNATURE.encode()
    with pytest.raises(CallbackRefused, match=r"\?json=true"):
        read_callback(form, "application/x-www-form-urlencoded; charset=UTF-8", KEY)


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("completed", InvoiceStatus.COMPLETED),
        ("mismatch", InvoiceStatus.COMPLETED),
        ("pending", InvoiceStatus.PENDING),
        ("pending internal", InvoiceStatus.PENDING),
        ("new", InvoiceStatus.NEW),
        ("expired", InvoiceStatus.EXPIRED),
        ("cancelled", InvoiceStatus.CANCELLED),
        ("error", InvoiceStatus.ERROR),
        ("refunded", None),
    ],
)
def test_plisio_statuses(word: str, status: InvoiceStatus | None) -> None:
    assert invoice_status(word) is status
