"""The real captures in tests/data/realdata are the published files, unedited."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import REALDATA, REPO

SHARED_REALDATA = REPO.parent / "shared" / "realdata"


def _digests() -> dict[str, str]:
    lines = (REALDATA / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines if line.strip())}


def test_every_capture_matches_its_recorded_digest_and_has_a_license():
    digests = _digests()
    assert len(digests) == 8
    for name, digest in digests.items():
        assert hashlib.sha256((REALDATA / name).read_bytes()).hexdigest() == digest, name
        assert (REALDATA / name).parent.joinpath("LICENSE").is_file(), name
    on_disk = {str(path.relative_to(REALDATA)) for path in REALDATA.glob("*/*") if path.name != "LICENSE"}
    assert on_disk == set(digests)


@pytest.mark.skipif(not SHARED_REALDATA.is_dir(), reason="no ../shared/realdata beside this clone")
def test_the_repository_copy_equals_the_shared_originals():
    for name in _digests():
        assert (REALDATA / name).read_bytes() == (SHARED_REALDATA / name).read_bytes(), name
