"""The ``results-tally`` job: finish every running tally (batch by batch, each batch claimed
under the tally row's lock, so several workers never add a batch twice), and in demo mode
post the server trustee's decryption share once a tally is done."""

from __future__ import annotations

from sqlalchemy import select

from results_service import server_trustee
from results_service.models import DecryptionShareSet, Tally
from results_service.service import run_tally, server_trustee_share
from securevote.config import Settings
from securevote.db import Database
from securevote.jobs import Job
from securevote.logging import get_logger

log = get_logger(__name__)


async def finish_server_trustee(database: Database, settings: Settings, election_id: str) -> bool:
    """Demo mode: post the server trustee's share for a finished tally (False if n/a)."""
    key_share = await server_trustee.load_key_share(
        database, election_id=election_id, settings=settings
    )
    if key_share is None:
        return False
    outcome = await server_trustee_share(database, election_id=election_id, key_share=key_share)
    return outcome is not None


async def run_tally_job(database: Database, settings: Settings) -> int:
    async with database.session() as session:
        running = list(
            await session.scalars(select(Tally.election_id).where(Tally.status == "running"))
        )
        done_without_shares = list(
            await session.scalars(
                select(Tally.election_id).where(
                    Tally.status == "done",
                    ~select(DecryptionShareSet.election_id)
                    .where(DecryptionShareSet.election_id == Tally.election_id)
                    .exists(),
                )
            )
        )
    handled = 0
    for election_id in running:
        await run_tally(database, election_id=election_id)
        handled += 1
        done_without_shares.append(election_id)
    for election_id in done_without_shares:
        handled += await finish_server_trustee(database, settings, election_id)
    return handled


JOB = Job(
    name="results-tally",
    run_once=run_tally_job,
    interval_seconds=10.0,
    description="finish running tallies in batches; the server trustee's share (demo mode)",
)
