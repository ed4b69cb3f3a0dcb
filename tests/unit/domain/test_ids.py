"""Ids made in bulk look like uuid4().hex and do not repeat."""

import re

from mimic.domain.ids import new_ids


def test_ids_in_bulk_are_32_hex_characters_and_distinct() -> None:
    ids = new_ids(10_000)
    assert len(ids) == 10_000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert set(ids).isdisjoint(new_ids(10_000))


def test_no_ids_asked_none_made() -> None:
    assert new_ids(0) == []
