"""Session fixtures: one election set up with a real key ceremony, and its honest record."""

import pytest

from .factory import VOTES, Election, HonestRecord, make_manifest, make_record, run_election_setup


@pytest.fixture(scope="session")
def election() -> Election:
    return run_election_setup(make_manifest())


@pytest.fixture(scope="session")
def honest(election: Election) -> HonestRecord:
    return make_record(election, VOTES)
