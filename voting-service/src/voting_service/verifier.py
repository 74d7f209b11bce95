"""Checking a cast ballot — parsing, its RFC 8785 form, its tracker, every proof — away from
the event loop (docs/adr/0013-group-commit.md).

This is most of a cast's CPU, and much of it is Python. In a thread of the service's process
it holds the GIL against the event loop, which then answers everything else late. With
``SECUREVOTE_VERIFY_PROCESSES`` = N (N >= 1) the checks run in N worker processes of their
own instead; with 0 (the default, for one-process runs and the tests) in threads.

The workers receive the request's JSON document and the election's public values and return
plain values: a refusal is a (code, detail) pair, never a pickled exception.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from securevote.ballots import (
    BallotError,
    EncryptedBallot,
    Manifest,
    ballot_problems,
    tracker_of,
)
from securevote.crypto.group import Point
from securevote.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class CheckedBallot:
    """A ballot that passed every check: its canonical text and its tracker."""

    canonical: str
    tracker: bytes


@dataclass(frozen=True)
class RefusedBallot:
    """Why a ballot was refused (an HTTP 422): ``ballot_malformed`` or ``ballot_invalid``."""

    code: str
    detail: str


def check_ballot(
    document: object,
    *,
    credential: str,
    manifest: Manifest,
    joint_key: bytes,
    election_hash: bytes,
) -> CheckedBallot | RefusedBallot:
    """Parse the ballot and check it against the election and the voter's credential."""
    try:
        ballot = EncryptedBallot.from_json(document)
    except BallotError as error:
        return RefusedBallot("ballot_malformed", str(error))
    if ballot.credential != credential:
        return RefusedBallot("ballot_invalid", "ballot is for another voter credential")
    problems = ballot_problems(
        ballot,
        manifest=manifest,
        public_key=Point(joint_key),
        election_hash=election_hash,
        credential=credential,
    )
    if problems:
        return RefusedBallot("ballot_invalid", "; ".join(problems))
    canonical = ballot.canonical_bytes()
    return CheckedBallot(canonical.decode(), tracker_of(ballot.election_hash, canonical))


class BallotVerifier:
    """Runs :func:`check_ballot` in worker processes (``processes`` >= 1) or in threads (0)."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    async def check(
        self,
        document: object,
        *,
        credential: str,
        manifest: Manifest,
        joint_key: bytes,
        election_hash: bytes,
    ) -> CheckedBallot | RefusedBallot:
        call = functools.partial(
            check_ballot,
            document,
            credential=credential,
            manifest=manifest,
            joint_key=joint_key,
            election_hash=election_hash,
        )
        if not self.processes:
            return await asyncio.to_thread(call)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor(), call)
        except BrokenProcessPool:
            # A worker died (killed, out of memory): start new ones and check once more.
            log.warning("verifier_workers_restarted", processes=self.processes)
            self._pool = None
            return await loop.run_in_executor(self._executor(), call)

    def _executor(self) -> Executor:
        if self._pool is None:
            # spawn: a forked child would inherit this process's event loop and connections.
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
        return self._pool

    def close(self) -> None:
        """Stop the workers (they finish the check in hand, the queued ones are dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _exit_with_parent(parent: int) -> None:
    """In each worker: exit when the service process is gone. A worker waits for work on a
    pipe it also holds the writing end of, so it would never notice a parent killed without
    a shutdown (SIGKILL, out of memory) and would linger."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
