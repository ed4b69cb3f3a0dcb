"""Secrets generated at first start: one value however many processes start at once."""

import os
import stat
import threading
from pathlib import Path

from mimic.entrypoints.config import _secret_file


def test_concurrent_first_starts_agree_on_one_private_secret(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secret_key"
    start = threading.Barrier(8)
    seen: list[str] = []

    def first_start() -> None:
        start.wait()
        seen.append(_secret_file(path))

    threads = [threading.Thread(target=first_start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(seen) == 8
    assert len(set(seen)) == 1
    assert seen[0] == path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(path.parent) == ["secret_key"]  # no drafts left behind


def test_an_existing_secret_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    path.write_text("kept-secret\n")
    assert _secret_file(path, lambda: "new") == "kept-secret"
