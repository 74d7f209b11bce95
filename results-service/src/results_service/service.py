"""The results service's domain logic: tally, decryption shares, results, publication.

- **Tally** (docs/protocol.md §8): once the election is closed and its board sealed (the final
  signed head covers every ballot on the board and its root is the board's Merkle root), the
  counted ballots of the board — for every credential, its last ballot; the voting service's
  ``counted_ballots`` markers must agree with the board — are added up homomorphically, in
  batches. Each batch is summed without holding a lock and committed by a conditional update
  on the board index it started from, so a batch is aggregated exactly once however many
  workers run. Nothing is filtered and no proof is re-checked (the voting service checked
  them at cast; the verifier re-checks everything in the record). A counted ballot that
  cannot be added stops the tally as ``failed``, with the board index and the reason; an
  administrator starts it over once the cause is fixed (docs/runbooks/tally-failure.md).
- **Shares**: a trustee posts one share per option with its Chaum-Pedersen proof; every proof
  is checked against the trustee's public share S_j; a set with any bad share is refused and
  the refusal recorded. One set per trustee (primary key). As soon as ``k`` valid sets exist
  the counts are combined and stored — but not shown to anyone until publication.
- **Publication**: the result becomes visible (``published_at``) exactly once.

Functions take keyword arguments and raise :class:`ResultsError` (a status and a message the
client may see); they never touch HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from results_service import election_data as data
from results_service import fastsum
from results_service.models import DecryptionShareSet, RejectedShare, Result, Tally
from securevote import audit
from securevote.audit import Outcome
from securevote.auth import Principal, Role
from securevote.ballots import ElectionContext, tally_label
from securevote.crypto.elgamal import ZERO_CIPHERTEXT, Ciphertext
from securevote.crypto.group import GroupError, Point
from securevote.crypto.merkle import MerkleTree
from securevote.crypto.proofs import DleqProof, ProofError
from securevote.crypto.threshold import (
    DecryptionShare,
    KeyShare,
    compute_decryption_share,
    public_share,
    verify_decryption_share,
)
from securevote.db import Database
from securevote.election_access import MANAGER_ROLES
from securevote.logging import get_logger
from securevote.record import aggregate_document, decrypt_tally, results_document

log = get_logger(__name__)
SERVICE = "results"
TALLY_BATCH = 2000
CLOSED_STATES = ("closed", "tallied", "published")

OptionKey = tuple[str, str]


class ResultsError(Exception):
    """A refusal the client may read: HTTP ``status``, a message and a machine ``code``."""

    def __init__(self, status: int, detail: str, *, code: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.extensions = extensions


class ShareRefused(ResultsError):
    """A decryption share set that does not verify (recorded, then answered with 422)."""

    def __init__(self, detail: str, *, trustee: int) -> None:
        super().__init__(422, detail, code="invalid_share", trustee=trustee)
        self.trustee = trustee


def now_utc() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; they are stored in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def actor(principal: Principal) -> str:
    return f"{principal.kind}:{principal.subject}"


def target(election_id: str) -> str:
    return f"election:{election_id}"


# --- Access ----------------------------------------------------------------------------------


async def election_for(
    session: AsyncSession,
    *,
    election_id: str,
    principal: Principal,
    roles: Sequence[Role] | None = None,
) -> data.ElectionRow:
    """The election, if ``principal`` may read it — the rule every service shares
    (``securevote.election_access``: the owners and admins of its organisation, and the
    trustees and observers named for it); 404 otherwise, so another organisation or an unnamed
    trustee or observer learns nothing, not even that it exists. With ``roles``, a reader
    without one of them gets 403."""
    election = await data.read_election(session, election_id, reader=principal)
    if election is None:
        raise ResultsError(404, "No such election.", code="election_not_found")
    if roles is not None and not principal.has_role(*roles):
        raise ResultsError(403, "Your role does not allow this.", code="forbidden")
    return election


# --- Tally -----------------------------------------------------------------------------------


def zero_sums(context: ElectionContext) -> dict[OptionKey, Ciphertext]:
    return {(q.id, o): ZERO_CIPHERTEXT for q in context.manifest.questions for o in q.option_ids}


def sums_from_document(document: Sequence[Mapping[str, Any]]) -> dict[OptionKey, Ciphertext]:
    return {
        (str(entry["question"]), str(entry["option"])): Ciphertext.from_json(entry["ciphertext"])
        for entry in document
    }


@dataclass(frozen=True)
class TallyView:
    status: str
    total: int
    processed: int
    board_size: int
    board_root: str
    started_at: datetime
    finished_at: datetime | None
    failure: str | None
    failed_at: datetime | None

    @classmethod
    def of(cls, tally: Tally) -> TallyView:
        return cls(
            status=tally.status,
            total=tally.total,
            processed=tally.processed,
            board_size=tally.board_size,
            board_root=tally.board_root,
            started_at=aware(tally.started_at),
            finished_at=None if tally.finished_at is None else aware(tally.finished_at),
            failure=tally.failure,
            failed_at=None if tally.failed_at is None else aware(tally.failed_at),
        )


@dataclass(frozen=True)
class _CheckedBoard:
    size: int
    root: str
    counted: int


async def _check_board(session: AsyncSession, election: data.ElectionRow) -> _CheckedBoard:
    """What a tally starts from, checked: the election closed, its board sealed, the final
    head covering every stored ballot with the board's own Merkle root, and the counted-ballot
    markers agreeing with the board."""
    if election.state not in CLOSED_STATES:
        raise ResultsError(
            409, f"The election is {election.state}; close it first.", code="not_closed"
        )
    election_id = election.id
    board = await data.board_status(session, election_id, election.context().election_hash)
    if not board.sealed or board.final_head is None:
        raise ResultsError(409, "The board is not sealed yet.", code="board_not_sealed")
    stored = await data.ballot_count(session, election_id)
    head = board.final_head
    if not head.size == board.size == stored:
        raise ResultsError(
            409,
            f"The final head covers {head.size} ballots; the board holds {stored}.",
            code="board_not_covered",
        )
    tree = MerkleTree([leaf async for leaf in data.leaf_hashes(session, election_id)])
    if tree.root(head.size) != head.root:
        raise ResultsError(
            409, "The final head's root is not the board's root.", code="board_root_mismatch"
        )
    counted = await data.counted_check(session, election_id)
    if not counted.consistent:
        raise ResultsError(
            409,
            "The board's counted ballots (the last of each credential) and the ballot "
            "box's markers disagree.",
            code="counted_ballots_mismatch",
            board=counted.credentials_on_board,
            markers=counted.counted_markers,
        )
    return _CheckedBoard(head.size, head.root.hex(), counted.counted_markers)


def _fresh_tally_values(
    election: data.ElectionRow, board: _CheckedBoard, principal: Principal
) -> dict[str, Any]:
    """A tally at its beginning: nothing aggregated yet."""
    return {
        "status": "running",
        "board_size": board.size,
        "board_root": board.root,
        "total": board.counted,
        "processed": 0,
        "cursor": -1,
        "aggregate": aggregate_document(zero_sums(election.context())),
        "started_by": actor(principal),
        "started_at": now_utc(),
        "finished_at": None,
        "failure": None,
        "failed_at": None,
    }


async def start_tally(
    database: Database, *, election_id: str, principal: Principal
) -> tuple[TallyView, bool]:
    """Check the board and create the tally (idempotent: an existing tally is returned).

    Returns the tally and whether this call created it."""
    async with database.session() as session:
        election = await election_for(
            session, election_id=election_id, principal=principal, roles=MANAGER_ROLES
        )
        existing = await session.get(Tally, election_id)
        if existing is not None:
            return TallyView.of(existing), False
        board = await _check_board(session, election)
        tally = Tally(election_id=election_id, **_fresh_tally_values(election, board, principal))
        session.add(tally)
        await session.flush()
        await audit.record(
            session,
            service=SERVICE,
            actor=actor(principal),
            action="tally.start",
            target=target(election_id),
            details={"board_size": board.size, "counted": board.counted},
        )
        return TallyView.of(tally), True


async def restart_tally(
    database: Database, *, election_id: str, principal: Principal
) -> tuple[TallyView, bool]:
    """An administrator starts a failed tally over, once its cause is fixed: every check of
    :func:`start_tally` again, then the aggregate from zero. Exactly once (a conditional update
    from ``failed``); a tally that is not failed is returned as it is, with False."""
    async with database.session() as session:
        election = await election_for(
            session, election_id=election_id, principal=principal, roles=MANAGER_ROLES
        )
        tally = await session.get(Tally, election_id)
        if tally is None:
            raise ResultsError(409, "The tally has not been started.", code="no_tally")
        if tally.status != "failed":
            return TallyView.of(tally), False
        previous = tally.failure
        board = await _check_board(session, election)
        changed = await session.execute(
            update(Tally)
            .where(Tally.election_id == election_id, Tally.status == "failed")
            .values(_fresh_tally_values(election, board, principal))
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            restarted = False  # another administrator restarted it first
        else:
            restarted = True
            await audit.record(
                session,
                service=SERVICE,
                actor=actor(principal),
                action="tally.restart",
                target=target(election_id),
                details={"previous_failure": previous, "counted": board.counted},
            )
            log.info("tally_restarted", election_id=election_id)
        tally = await session.get(Tally, election_id, populate_existing=True)
        assert tally is not None
        return TallyView.of(tally), restarted


class _Stuck(Exception):
    """The tally cannot go on: a counted ballot cannot be added, or the counted ballots
    changed. ``reason`` names the board index and what is wrong, never the ballot."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _first_bad_row(batch: Sequence[tuple[int, str]], keys: Sequence[OptionKey]) -> str:
    """Which ballot of a batch that failed to sum cannot be added, and why (each ballot alone;
    only run after a failure)."""
    for index, ballot in batch:
        try:
            fastsum.sum_ballots([ballot], keys)
        except fastsum.SumError as error:
            return f"The counted ballot at board index {index} cannot be added: {error}."
    return f"The ballots at board indexes {batch[0][0]}..{batch[-1][0]} cannot be added."


async def _sum_batch(
    batch: Sequence[tuple[int, str]], aggregate: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    keys = [(str(e["question"]), str(e["option"])) for e in aggregate]
    running = {
        (str(e["question"]), str(e["option"])): (
            bytes.fromhex(e["ciphertext"]["pad"]),
            bytes.fromhex(e["ciphertext"]["data"]),
        )
        for e in aggregate
    }
    try:
        part = await asyncio.to_thread(fastsum.sum_ballots, [ballot for _, ballot in batch], keys)
        total = fastsum.combine([running, part], keys)
    except fastsum.SumError:
        raise _Stuck(await asyncio.to_thread(_first_bad_row, batch, keys)) from None
    return [
        {"question": q, "option": o, "ciphertext": {"pad": pad.hex(), "data": data.hex()}}
        for (q, o), (pad, data) in total.items()
    ]


async def tally_batch(
    database: Database, *, election_id: str, batch_size: int = TALLY_BATCH
) -> str:
    """Aggregate the next batch of counted ballots; the tally's status after it (``running``:
    call again; ``done``; ``failed``).

    No lock is held while the batch is summed: the batch is read in one short transaction,
    summed, and written in another with ``UPDATE … WHERE cursor = <the cursor it started
    from>``. If another worker moved the cursor meanwhile the update changes no row and this
    batch is dropped, so each batch is added exactly once, by the database's say. A ballot
    that cannot be added stops the tally as ``failed`` (the same conditional update), never
    retried in a loop: an administrator restarts it once the cause is fixed."""
    async with database.session() as session:
        tally = await session.get(Tally, election_id, populate_existing=True)
        if tally is None:
            raise ResultsError(404, "No tally for this election.", code="no_tally")
        if tally.status != "running":
            return tally.status
        start, board_size = tally.cursor, tally.board_size
        cursor, processed, total, aggregate = (
            start,
            tally.processed,
            tally.total,
            list(tally.aggregate),
        )
        batch = await data.counted_batch(session, election_id, after=cursor, limit=batch_size)
    done = len(batch) < batch_size
    try:
        if batch:
            aggregate = await _sum_batch(batch, aggregate)
            cursor, processed = batch[-1][0], processed + len(batch)
        if done and processed != total:
            raise _Stuck(
                f"The counted ballots changed during the tally: {processed} found, "
                f"{total} when it started."
            )
    except _Stuck as stuck:
        return await _fail(database, election_id=election_id, start=start, reason=stuck.reason)
    values: dict[str, Any] = {"aggregate": aggregate, "cursor": cursor, "processed": processed}
    if done:
        values.update(status="done", finished_at=now_utc())
    async with database.session() as session:
        changed = await session.execute(
            update(Tally)
            .where(
                Tally.election_id == election_id,
                Tally.status == "running",
                Tally.cursor == start,
            )
            .values(values)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return "running"  # another worker added this batch first: read again
        if done:
            await audit.record(
                session,
                service=SERVICE,
                actor="system:tally",
                action="tally.finish",
                target=target(election_id),
                details={"counted": total, "board_size": board_size},
            )
            log.info("tally_finished", election_id=election_id, counted=total)
    return "done" if done else "running"


async def _fail(database: Database, *, election_id: str, start: int, reason: str) -> str:
    """Stop the tally as ``failed`` (if no other worker moved it on), audited and logged."""
    async with database.session() as session:
        changed = await session.execute(
            update(Tally)
            .where(
                Tally.election_id == election_id,
                Tally.status == "running",
                Tally.cursor == start,
            )
            .values(status="failed", failure=reason[:300], failed_at=now_utc())
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return "running"  # another worker moved on (or stopped it): read again
        await audit.record(
            session,
            service=SERVICE,
            actor="system:tally",
            action="tally.fail",
            target=target(election_id),
            outcome=Outcome.FAILURE,
            details={"reason": reason[:300]},
        )
    log.error("tally_failed", election_id=election_id, reason=reason[:300])
    return "failed"


async def run_tally(database: Database, *, election_id: str, batch_size: int = TALLY_BATCH) -> str:
    """Aggregate batch after batch until the tally is done or failed; its final status."""
    while (
        status := await tally_batch(database, election_id=election_id, batch_size=batch_size)
    ) == "running":
        pass
    return status


async def count_failed(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Tally).where(Tally.status == "failed")
        )
        or 0
    )


async def tally_view(
    database: Database, *, election_id: str, principal: Principal
) -> tuple[TallyView | None, list[int], int, bool, bool]:
    """Progress for an admin: tally, trustees with shares, k, decrypted?, published?"""
    async with database.session() as session:
        election = await election_for(session, election_id=election_id, principal=principal)
        tally = await session.get(Tally, election_id)
        trustees = list(
            await session.scalars(
                select(DecryptionShareSet.trustee_index)
                .where(DecryptionShareSet.election_id == election_id)
                .order_by(DecryptionShareSet.trustee_index)
            )
        )
        result = await session.get(Result, election_id)
        threshold = int((election.context_document or {}).get("threshold", 0))
        return (
            None if tally is None else TallyView.of(tally),
            trustees,
            threshold,
            result is not None,
            result is not None and result.published_at is not None,
        )


@dataclass(frozen=True)
class AggregateView:
    election_hash: str
    threshold: int
    ballots: int
    aggregate: list[dict[str, Any]]


async def aggregate_view(
    database: Database, *, election_id: str, principal: Principal
) -> AggregateView:
    async with database.session() as session:
        election = await election_for(session, election_id=election_id, principal=principal)
        tally = await session.get(Tally, election_id)
        if tally is None or tally.status != "done":
            raise ResultsError(409, "The tally is not finished yet.", code="tally_not_done")
        return AggregateView(
            election_hash=election.election_hash or "",
            threshold=int((election.context_document or {})["threshold"]),
            ballots=tally.total,
            aggregate=list(tally.aggregate),
        )


# --- Decryption shares -----------------------------------------------------------------------


def parse_share_set(
    *,
    context: ElectionContext,
    aggregate: Mapping[OptionKey, Ciphertext],
    trustee: int,
    document: object,
) -> dict[OptionKey, DecryptionShare]:
    """Parse and verify one trustee's share set; ShareRefused names the first problem."""
    if trustee not in {t.index for t in context.trustees}:
        raise ShareRefused(f"Trustee {trustee} is not a trustee of this election.", trustee=trustee)
    if not isinstance(document, list):
        raise ShareRefused("The shares are a list.", trustee=trustee)
    keys = list(aggregate)
    found = []
    for entry in document:
        if not isinstance(entry, dict) or set(entry) != {"question", "option", "share", "proof"}:
            raise ShareRefused("Each share is {question, option, share, proof}.", trustee=trustee)
        found.append((entry["question"], entry["option"]))
    if found != keys:
        raise ShareRefused(
            "The shares must list exactly the election's options, in manifest order.",
            trustee=trustee,
        )
    verification_key = public_share(commitments=context.commitments, index=trustee)
    election_hash = context.election_hash
    shares = {}
    for key, entry in zip(keys, document, strict=True):
        try:
            share = DecryptionShare(
                trustee, Point.from_hex(entry["share"]), DleqProof.from_json(entry["proof"])
            )
        except (GroupError, ProofError, KeyError, TypeError, ValueError):
            raise ShareRefused(
                f"The share for {key[0]}/{key[1]} is malformed.", trustee=trustee
            ) from None
        if not verify_decryption_share(
            share=share,
            ciphertext=aggregate[key],
            public_share=verification_key,
            election_hash=election_hash,
            label=tally_label(*key),
        ):
            raise ShareRefused(f"The share for {key[0]}/{key[1]} does not verify.", trustee=trustee)
        shares[key] = share
    return shares


def share_set_document(shares: Mapping[OptionKey, DecryptionShare]) -> list[dict[str, Any]]:
    return [
        {"question": q, "option": o, "share": s.share.hex(), "proof": s.proof.to_json()}
        for (q, o), s in shares.items()
    ]


@dataclass(frozen=True)
class ShareOutcome:
    trustee: int
    received: list[int]
    threshold: int
    decrypted: bool


async def _locked_done_tally(session: AsyncSession, election_id: str) -> Tally:
    tally = await session.scalar(
        select(Tally)
        .where(Tally.election_id == election_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if tally is None or tally.status != "done":
        raise ResultsError(409, "The tally is not finished yet.", code="tally_not_done")
    return tally


async def _store_share_set(
    session: AsyncSession,
    *,
    election: data.ElectionRow,
    tally: Tally,
    trustee: int,
    document: object,
    submitted_by: str,
) -> ShareOutcome:
    """Verify and store a share set inside the caller's transaction (tally row locked);
    combine once k sets exist."""
    election_id = election.id
    if await session.get(DecryptionShareSet, (election_id, trustee)) is not None:
        raise ResultsError(
            409,
            f"Trustee {trustee} has already submitted decryption shares.",
            code="shares_already_submitted",
        )
    context = election.context()
    aggregate = sums_from_document(tally.aggregate)
    shares = parse_share_set(
        context=context, aggregate=aggregate, trustee=trustee, document=document
    )
    session.add(
        DecryptionShareSet(
            election_id=election_id,
            trustee_index=trustee,
            shares=share_set_document(shares),
            submitted_by=submitted_by,
            submitted_at=now_utc(),
        )
    )
    await session.flush()
    await audit.record(
        session,
        service=SERVICE,
        actor=submitted_by,
        action="tally.share",
        target=target(election_id),
        details={"trustee": trustee},
    )
    received = list(
        await session.scalars(
            select(DecryptionShareSet.trustee_index)
            .where(DecryptionShareSet.election_id == election_id)
            .order_by(DecryptionShareSet.trustee_index)
        )
    )
    decrypted = await session.get(Result, election_id) is not None
    if not decrypted and len(received) >= context.threshold:
        await _combine(session, election=election, context=context, tally=tally)
        decrypted = True
    return ShareOutcome(trustee, received, context.threshold, decrypted)


async def _load_share_sets(
    session: AsyncSession, election_id: str
) -> dict[int, dict[OptionKey, DecryptionShare]]:
    rows = await session.scalars(
        select(DecryptionShareSet)
        .where(DecryptionShareSet.election_id == election_id)
        .order_by(DecryptionShareSet.trustee_index)
    )
    return {
        row.trustee_index: {
            (e["question"], e["option"]): DecryptionShare(
                row.trustee_index, Point.from_hex(e["share"]), DleqProof.from_json(e["proof"])
            )
            for e in row.shares
        }
        for row in rows
    }


async def _combine(
    session: AsyncSession, *, election: data.ElectionRow, context: ElectionContext, tally: Tally
) -> None:
    election_id = election.id
    shares = await _load_share_sets(session, election_id)
    chosen = sorted(shares)[: context.threshold]
    aggregate = sums_from_document(tally.aggregate)
    counts = decrypt_tally(
        context=context,
        aggregate=aggregate,
        shares={t: shares[t] for t in chosen},
        bound=max(tally.total + 1, 1 << 10),
    )
    board = await data.board_status(session, election_id, context.election_hash)
    markers = (await data.counted_check(session, election_id)).counted_markers
    spoiled = await data.spoiled_count(session, election_id)
    eligible = await data.roll_size(session, election_id)
    reconciliation = {
        "eligible_voters": eligible,
        "counted_ballots": tally.total,
        "voters_marked_as_voted": markers,
        "receipts_issued": board.size,
        "superseded_ballots": board.size - tally.total,
        "spoiled_ballots": spoiled,
        "consistent": tally.total == markers and board.size == tally.board_size,
    }
    session.add(
        Result(
            election_id=election_id,
            ballot_count=tally.total,
            counts=results_document(context, counts, tally.total),
            trustees=chosen,
            reconciliation=reconciliation,
            decrypted_at=now_utc(),
            published_at=None,
            published_by=None,
        )
    )
    await session.flush()
    await audit.record(
        session,
        service=SERVICE,
        actor="system:tally",
        action="tally.decrypt",
        target=target(election_id),
        details={"trustees": chosen},  # the counts stay secret until publication
    )
    log.info("tally_decrypted", election_id=election_id, trustees=chosen)


async def submit_shares(
    database: Database,
    *,
    election_id: str,
    principal: Principal,
    trustee: int,
    document: object,
) -> ShareOutcome:
    """A trustee's share set: the caller must be trustee ``trustee`` of the election."""
    async with database.session() as session:
        election = await election_for(
            session, election_id=election_id, principal=principal, roles=(Role.TRUSTEE,)
        )
        account = await data.trustee_account(session, election_id, trustee)
        if account is None or account != principal.subject:
            raise ResultsError(
                403, f"You are not trustee {trustee} of this election.", code="not_this_trustee"
            )
        tally = await _locked_done_tally(session, election_id)
        return await _store_share_set(
            session,
            election=election,
            tally=tally,
            trustee=trustee,
            document=document,
            submitted_by=actor(principal),
        )


async def record_refusal(
    database: Database, *, election_id: str, principal: Principal, refusal: ShareRefused
) -> None:
    """Keep a refused share set on record (its own transaction: the refusal rolled back)."""
    async with database.session() as session:
        session.add(
            RejectedShare(
                election_id=election_id,
                trustee_index=refusal.trustee,
                reason=refusal.detail[:300],
                submitted_by=actor(principal),
                submitted_at=now_utc(),
            )
        )
        await audit.record(
            session,
            service=SERVICE,
            actor=actor(principal),
            action="tally.share",
            target=target(election_id),
            outcome=Outcome.FAILURE,
            details={"trustee": refusal.trustee, "reason": refusal.detail[:300]},
        )


async def server_trustee_share(
    database: Database, *, election_id: str, key_share: KeyShare
) -> ShareOutcome | None:
    """Demo mode: the server trustee's share, computed here (only over the aggregate)."""
    async with database.session() as session:
        election = await data.read_election(session, election_id)
        if election is None or not election.server_trustee:
            return None
        tally = await _locked_done_tally(session, election_id)
        if await session.get(DecryptionShareSet, (election_id, key_share.index)) is not None:
            return None
        context = election.context()
        aggregate = sums_from_document(tally.aggregate)
        shares = {
            key: compute_decryption_share(
                key_share=key_share,
                ciphertext=ciphertext,
                election_hash=context.election_hash,
                label=tally_label(*key),
            )
            for key, ciphertext in aggregate.items()
        }
        return await _store_share_set(
            session,
            election=election,
            tally=tally,
            trustee=key_share.index,
            document=share_set_document(shares),
            submitted_by="system:server-trustee",
        )


async def rejected_shares(
    database: Database, *, election_id: str, principal: Principal
) -> list[RejectedShare]:
    async with database.session() as session:
        await election_for(session, election_id=election_id, principal=principal)
        return list(
            await session.scalars(
                select(RejectedShare)
                .where(RejectedShare.election_id == election_id)
                .order_by(RejectedShare.id)
            )
        )


# --- Publication and the published result ----------------------------------------------------


async def publication_check(
    database: Database, *, election_id: str, principal: Principal
) -> tuple[str, bool]:
    """Before publishing: (election state, already published?). 409 if not decrypted."""
    async with database.session() as session:
        election = await election_for(
            session, election_id=election_id, principal=principal, roles=MANAGER_ROLES
        )
        result = await session.get(Result, election_id)
        if result is None:
            raise ResultsError(
                409,
                "The tally is not decrypted yet (k trustees must post their shares).",
                code="not_decrypted",
            )
        return election.state, result.published_at is not None


async def mark_published(database: Database, *, election_id: str, principal: Principal) -> bool:
    """Set ``published_at`` exactly once; True if this call published."""
    async with database.session() as session:
        now = now_utc()
        changed = await session.execute(
            update(Result)
            .where(Result.election_id == election_id, Result.published_at.is_(None))
            .values(published_at=now, published_by=actor(principal))
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        await audit.record(
            session,
            service=SERVICE,
            actor=actor(principal),
            action="results.publish",
            target=target(election_id),
        )
        return True


@dataclass(frozen=True)
class Published:
    election: data.ElectionRow
    context: ElectionContext
    result: Result
    tally: Tally


async def published(
    database: Database, *, election_id: str, from_replica: bool = False
) -> Published:
    """The published result; 404 for everyone, admins included, until publication.

    ``from_replica``: read it from the read replica if there is one (the public result pages;
    a result published a moment ago may be missing there for the replication delay)."""
    sessions = database.read_session if from_replica else database.session
    async with sessions() as session:
        result = await session.get(Result, election_id)
        election = await data.read_election(session, election_id)
        tally = await session.get(Tally, election_id)
        if result is None or result.published_at is None or election is None or tally is None:
            raise ResultsError(
                404, "No published results for this election.", code="results_not_published"
            )
        return Published(election, election.context(), result, tally)


async def count_published(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Result).where(Result.published_at.is_not(None))
        )
        or 0
    )
