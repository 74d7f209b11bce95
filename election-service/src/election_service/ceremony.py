"""The trustees' key ceremony (docs/protocol.md §4) run through the election service.

The organiser names the trustees (accounts with the trustee role, in order: trustee 1..n)
and the threshold k. Then each trustee, with its own token and its own machine:

1. ``register``: publishes its X25519 box public key;
2. ``deal`` (once all n are registered): publishes its Feldman commitments with the proof of
   knowledge, verified here against the ceremony parameters, and the n-1 sealed shares for
   the others. The first dealing fixes the parameters: the manifest (from the election's
   current questions) is kept with the ceremony;
3. ``verify`` (once all n have dealt): opens its shares locally and reports ok, or
   complaints naming the senders whose share was bad;
4. an accused trustee answers a complaint by revealing the share publicly: if it matches its
   commitments the complaint is answered (the accuser uses the revealed share), otherwise
   the accused is disqualified and the ceremony has failed: the organiser must change the
   trustees (which restarts it).

When every trustee has dealt and verified and every complaint is answered, the joint key
K = Σ A_i0 is set on the election. Freezing then fixes the election context (manifest,
trustees with their commitments, threshold) and the election hash, and refuses a ceremony
whose manifest is not the current one.

The server never sees a trustee's secret: only public keys, commitments, sealed boxes and,
for answered complaints, the revealed share (public by the protocol). Every write locks the
election row and requires the draft state; each step is at most once per trustee (unique
constraints), and re-sending the same step is accepted as a no-op, so clients may retry.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from election_service.access import (
    SERVICE,
    election_for_change,
    election_for_read,
    election_for_reader,
    election_target,
)
from election_service.errors import Conflict, Forbidden, InvalidInput, NotFound
from election_service.models import (
    CeremonyComplaint,
    CeremonyShare,
    CeremonyStep,
    CeremonyTrustee,
    Election,
    KeyCeremony,
    Question,
    ServerTrusteeKey,
)
from election_service.schemas import (
    SERVER_TRUSTEE_NAME,
    CeremonyOut,
    CeremonyStatus,
    CeremonyTrusteeOut,
    ComplaintOut,
    DealingIn,
    SharesOut,
    TrusteesIn,
    VerificationIn,
)
from election_service.server_trustee import seal_key_share
from securevote import audit
from securevote.auth import Principal, Role
from securevote.ballots import ElectionContext, Manifest, OptionDefinition, QuestionDefinition
from securevote.crypto.group import Scalar
from securevote.crypto.threshold import (
    CeremonyParameters,
    Complaint,
    EncryptedShare,
    TrusteeCommitment,
    TrusteeIdentity,
    deal,
    generate_box_keypair,
    joint_public_key,
    receive_shares,
    resolve_complaint,
    verify_commitment,
)
from securevote.record import trustees_document

STALE_MESSAGE = "key ceremony is for an older version of the questions"


class ManifestNotReady(ValueError):
    """The election's questions do not make a valid manifest yet (the reason says why)."""


# --- Loading ------------------------------------------------------------------------------


async def current_manifest(session: AsyncSession, election: Election) -> Manifest:
    """The manifest of the election as it is now (protocol §3); ManifestNotReady if the
    questions do not make one (none yet, a question without options, bad bounds)."""
    questions = (
        await session.scalars(
            select(Question)
            .where(Question.election_id == election.id)
            .order_by(Question.position)
            .options(selectinload(Question.options))
            .execution_options(populate_existing=True)
        )
    ).all()
    try:
        return Manifest(
            election_id=election.id,
            title=election.title,
            questions=tuple(
                QuestionDefinition(
                    id=question.id,
                    label=question.title,
                    options=tuple(
                        OptionDefinition(id=option.id, label=option.title)
                        for option in question.options
                    ),
                    min_selections=question.min_selections,
                    max_selections=question.max_selections,
                )
                for question in questions
            ),
        )
    except ValidationError as exc:
        reasons = sorted({str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()})
        raise ManifestNotReady("; ".join(reasons)) from None


@dataclass
class Loaded:
    """Everything about an election's ceremony, read in one transaction."""

    election: Election
    ceremony: KeyCeremony | None
    trustees: list[CeremonyTrustee]
    steps: dict[tuple[int, str], CeremonyStep]
    complaints: list[CeremonyComplaint]

    @property
    def size(self) -> int:
        return len(self.trustees)

    @property
    def threshold(self) -> int:
        assert self.election.threshold is not None
        return self.election.threshold

    def trustee(self, index: int) -> CeremonyTrustee:
        for trustee in self.trustees:
            if trustee.trustee_index == index:
                return trustee
        raise NotFound(f"No trustee {index} in this election.")

    def label(self, index: int) -> str:
        return f"{index} ({self.trustee(index).name})"

    def step(self, index: int, name: str) -> CeremonyStep | None:
        return self.steps.get((index, name))

    def without(self, name: str) -> list[int]:
        return [t.trustee_index for t in self.trustees if (t.trustee_index, name) not in self.steps]

    def box_key(self, index: int) -> bytes | None:
        step = self.step(index, "register")
        return bytes.fromhex(step.payload["box_public_key"]) if step else None

    def identities(self) -> tuple[TrusteeIdentity, ...] | None:
        keys = [self.box_key(t.trustee_index) for t in self.trustees]
        if not self.trustees or any(key is None for key in keys):
            return None
        return tuple(
            TrusteeIdentity(t.trustee_index, t.name, key)
            for t, key in zip(self.trustees, keys, strict=True)
            if key is not None
        )

    def commitments(self) -> dict[int, TrusteeCommitment]:
        return {
            index: TrusteeCommitment.from_json(step.payload["commitment"])
            for (index, name), step in self.steps.items()
            if name == "deal"
        }

    def disqualified(self) -> list[int]:
        return sorted({c.accused for c in self.complaints if c.resolution == "disqualified"})

    def open_complaints(self) -> list[CeremonyComplaint]:
        return [c for c in self.complaints if c.resolution is None]

    @property
    def fixed_manifest(self) -> Manifest | None:
        if self.ceremony is None or self.ceremony.manifest is None:
            return None
        return Manifest.model_validate(self.ceremony.manifest)

    def parameters(self, manifest: Manifest) -> CeremonyParameters | None:
        identities = self.identities()
        if identities is None:
            return None
        return CeremonyParameters(
            manifest_hash=manifest.manifest_hash, threshold=self.threshold, trustees=identities
        )

    @property
    def complete(self) -> bool:
        return self.ceremony is not None and self.ceremony.completed_at is not None

    def context(self) -> ElectionContext:
        """The election context of a complete ceremony."""
        manifest = self.fixed_manifest
        identities = self.identities()
        assert manifest is not None and identities is not None
        commitments = self.commitments()
        return ElectionContext(
            manifest=manifest,
            threshold=self.threshold,
            trustees=identities,
            commitments=tuple(commitments[t.index] for t in identities),
        )


async def load(session: AsyncSession, election: Election) -> Loaded:
    election_id = election.id
    ceremony = await session.scalar(
        select(KeyCeremony)
        .where(KeyCeremony.election_id == election_id)
        .execution_options(populate_existing=True)
    )
    trustees = (
        await session.scalars(
            select(CeremonyTrustee)
            .where(CeremonyTrustee.election_id == election_id)
            .order_by(CeremonyTrustee.trustee_index)
        )
    ).all()
    steps = (
        await session.scalars(select(CeremonyStep).where(CeremonyStep.election_id == election_id))
    ).all()
    complaints = (
        await session.scalars(
            select(CeremonyComplaint)
            .where(CeremonyComplaint.election_id == election_id)
            .order_by(CeremonyComplaint.accuser, CeremonyComplaint.accused)
            .execution_options(populate_existing=True)
        )
    ).all()
    return Loaded(
        election=election,
        ceremony=ceremony,
        trustees=list(trustees),
        steps={(s.trustee_index, s.step): s for s in steps},
        complaints=list(complaints),
    )


# --- Status -------------------------------------------------------------------------------


def _names(loaded: Loaded, indices: Sequence[int]) -> str:
    return ", ".join(loaded.label(i) for i in indices)


async def status_of(
    session: AsyncSession, loaded: Loaded
) -> tuple[CeremonyStatus, str, Manifest | None, bool]:
    """(status, what it waits for, the manifest the key is or would be for, stale)."""
    election = loaded.election
    live: Manifest | None
    live_problem = ""
    try:
        live = await current_manifest(session, election)
    except ManifestNotReady as exc:
        live, live_problem = None, str(exc)
    fixed = loaded.fixed_manifest
    stale = fixed is not None and (live is None or live.manifest_hash != fixed.manifest_hash)
    manifest = fixed or live
    if not loaded.trustees or election.threshold is None:
        return "not_configured", "The trustees are not named yet.", manifest, stale
    disqualified = loaded.disqualified()
    if disqualified:
        detail = (
            f"Trustee {_names(loaded, disqualified)} was found cheating: its revealed share "
            "does not match its commitments. The ceremony must be restarted without it: "
            "the organiser changes the trustees (PUT …/trustees)."
        )
        return "failed", detail, manifest, stale
    if loaded.complete:
        detail = "The joint public key is set."
        if stale:
            detail += f" But the {STALE_MESSAGE}: restart the ceremony."
        return "complete", detail, manifest, stale
    if missing := loaded.without("register"):
        if election.server_trustee:
            detail = (
                "The server trustee's key is generated once the questions are complete "
                f"({live_problem or 'they are'}): restart the ceremony."
            )
        else:
            detail = f"Waiting for the box public keys of trustees {_names(loaded, missing)}."
        return "registering", detail, manifest, stale
    if missing := loaded.without("deal"):
        detail = f"Waiting for the commitments and shares of trustees {_names(loaded, missing)}."
        if fixed is None and live is None:
            detail += f" The questions are not ready for the key yet: {live_problem}."
        return "dealing", detail, manifest, stale
    if missing := loaded.without("verify"):
        detail = f"Waiting for trustees {_names(loaded, missing)} to verify their shares."
        return "verifying", detail, manifest, stale
    pending = "; ".join(
        f"trustee {loaded.label(c.accused)} to answer the complaint of trustee {c.accuser}"
        for c in loaded.open_complaints()
    )
    return "complaints", f"Waiting for {pending}.", manifest, stale


async def view(session: AsyncSession, *, organisation_id: str, election_id: str) -> CeremonyOut:
    election = await election_for_read(
        session, organisation_id=organisation_id, election_id=election_id
    )
    loaded = await load(session, election)
    status, detail, manifest, stale = await status_of(session, loaded)
    params = loaded.parameters(manifest) if manifest is not None and loaded.trustees else None
    disqualified = loaded.disqualified()
    return CeremonyOut(
        election_id=election.id,
        ceremony_id=loaded.ceremony.ceremony_id if loaded.ceremony else None,
        server_trustee=election.server_trustee,
        trustee_count=election.trustee_count,
        threshold=election.threshold,
        status=status,
        detail=detail,
        stale=stale,
        manifest=manifest.to_json() if manifest else None,
        manifest_hash=manifest.manifest_hash.hex() if manifest else None,
        ceremony_hash=params.ceremony_hash.hex() if params else None,
        trustees=[_trustee_out(loaded, t, disqualified) for t in loaded.trustees],
        complaints=[
            ComplaintOut(
                accuser=c.accuser,
                accused=c.accused,
                reason=c.reason,
                status="open" if c.resolution is None else c.resolution,
                revealed_share=c.revealed_share,
            )
            for c in loaded.complaints
        ],
        disqualified=disqualified,
        joint_public_key=election.joint_public_key.hex() if election.joint_public_key else None,
        election_hash=loaded.context().election_hash.hex() if loaded.complete else None,
    )


def _trustee_out(
    loaded: Loaded, trustee: CeremonyTrustee, disqualified: list[int]
) -> CeremonyTrusteeOut:
    index = trustee.trustee_index
    box_key = loaded.box_key(index)
    dealt = loaded.step(index, "deal")
    verified = loaded.step(index, "verify")
    return CeremonyTrusteeOut(
        index=index,
        account_id=trustee.account_id,
        name=trustee.name,
        box_public_key=box_key.hex() if box_key else None,
        registered=box_key is not None,
        committed=dealt is not None,
        commitment=dealt.payload["commitment"] if dealt else None,
        verification="pending" if verified is None else verified.payload["result"],
        disqualified=index in disqualified,
    )


# --- The organiser: trustees, restart -----------------------------------------------------


async def _clear(session: AsyncSession, election: Election, *, now: datetime) -> None:
    for table in (CeremonyStep, CeremonyShare, CeremonyComplaint, ServerTrusteeKey, KeyCeremony):
        await session.execute(delete(table).where(table.election_id == election.id))
    election.joint_public_key = None
    election.updated_at = now


async def _reset(session: AsyncSession, election: Election, *, now: datetime) -> str:
    """Forget every step of the ceremony (not the trustees); returns the new ceremony id."""
    await _clear(session, election, now=now)
    ceremony_id = str(uuid.uuid4())
    await session.execute(
        insert(KeyCeremony).values(election_id=election.id, ceremony_id=ceremony_id, started_at=now)
    )
    await session.flush()
    return ceremony_id


async def drop_trustees(session: AsyncSession, election: Election, *, now: datetime) -> bool:
    """Remove the named trustees and the ceremony (e.g. the trustee count or threshold
    changed); True if trustees were named. The caller holds the election lock."""
    had = await session.scalar(
        select(CeremonyTrustee.trustee_index).where(CeremonyTrustee.election_id == election.id)
    )
    await _clear(session, election, now=now)
    await session.execute(delete(CeremonyTrustee).where(CeremonyTrustee.election_id == election.id))
    election.server_trustee = False
    await session.flush()
    return had is not None


async def set_trustees(
    session: AsyncSession,
    *,
    organisation_id: str,
    election_id: str,
    actor: str,
    data: TrusteesIn,
    server_secret: bytes,
    now: datetime,
) -> None:
    """Name the trustees and the threshold (or the demo server trustee); restarts the
    ceremony. Each trustee must be an account of the organisation with the trustee role:
    only a token for that account, of this organisation, with that role, can act for it."""
    election = await election_for_change(
        session, organisation_id=organisation_id, election_id=election_id
    )
    await drop_trustees(session, election, now=now)
    if data.server_trustee:
        rows: list[dict[str, Any]] = [{"account_id": None, "name": SERVER_TRUSTEE_NAME}]
        threshold = 1
    else:
        assert data.trustees is not None and data.threshold is not None
        rows = [{"account_id": str(t.account_id), "name": t.name} for t in data.trustees]
        threshold = data.threshold
    await session.execute(
        insert(CeremonyTrustee),
        [{"election_id": election_id, "trustee_index": i, **r} for i, r in enumerate(rows, 1)],
    )
    election.trustee_count = len(rows)
    election.threshold = threshold
    election.server_trustee = data.server_trustee
    ceremony_id = await _reset(session, election, now=now)
    await audit.record(
        session,
        service=SERVICE,
        actor=actor,
        action="ceremony.set_trustees",
        target=election_target(election_id),
        details={
            "trustee_count": len(rows),
            "threshold": threshold,
            "server_trustee": data.server_trustee,
            "account_ids": [r["account_id"] for r in rows if r["account_id"]],
            "ceremony_id": ceremony_id,
        },
    )
    if data.server_trustee:
        await _run_server_trustee(
            session, election, ceremony_id=ceremony_id, server_secret=server_secret, now=now
        )


async def restart(
    session: AsyncSession,
    *,
    organisation_id: str,
    election_id: str,
    actor: str,
    server_secret: bytes,
    now: datetime,
) -> None:
    """Start the ceremony again with the same trustees (every step is forgotten)."""
    election = await election_for_change(
        session, organisation_id=organisation_id, election_id=election_id
    )
    loaded = await load(session, election)
    if not loaded.trustees:
        raise Conflict("Name the trustees first (PUT …/trustees).")
    ceremony_id = await _reset(session, election, now=now)
    await audit.record(
        session,
        service=SERVICE,
        actor=actor,
        action="ceremony.restart",
        target=election_target(election_id),
        details={"ceremony_id": ceremony_id, "disqualified": loaded.disqualified()},
    )
    if election.server_trustee:
        await _run_server_trustee(
            session, election, ceremony_id=ceremony_id, server_secret=server_secret, now=now
        )


async def _run_server_trustee(
    session: AsyncSession,
    election: Election,
    *,
    ceremony_id: str,
    server_secret: bytes,
    now: datetime,
) -> None:
    """Demo mode: the whole ceremony for the one server trustee, now, if the questions make
    a manifest (otherwise a restart does it later). Its key share is stored encrypted."""
    try:
        manifest = await current_manifest(session, election)
    except ManifestNotReady:
        return
    box_public, box_secret = generate_box_keypair()
    identity = TrusteeIdentity(1, SERVER_TRUSTEE_NAME, box_public)
    params = CeremonyParameters(
        manifest_hash=manifest.manifest_hash, threshold=1, trustees=(identity,)
    )
    dealing = deal(params=params, index=1)
    key_share, complaints = receive_shares(
        params=params,
        index=1,
        box_public_key=box_public,
        box_secret_key=box_secret,
        commitments={1: dealing.commitment},
        shares=dealing.shares,
    )
    if key_share is None or complaints:  # cannot happen with honest code
        raise RuntimeError("the server trustee's own ceremony failed")
    await _fix_manifest(session, election.id, manifest)
    for step, payload in (
        ("register", {"box_public_key": box_public.hex()}),
        ("deal", {"commitment": dealing.commitment.to_json()}),
        ("verify", {"result": "ok", "complaints": []}),
    ):
        await _insert_step(session, election.id, 1, step, payload, now=now)
    session.add(
        ServerTrusteeKey(
            election_id=election.id,
            ceremony_id=ceremony_id,
            sealed_key_share=seal_key_share(
                key_share,
                server_secret=server_secret,
                election_id=election.id,
                ceremony_id=ceremony_id,
            ),
            created_at=now,
        )
    )
    await session.flush()
    await audit.record(
        session,
        service=SERVICE,
        actor="system:server-trustee",
        action="ceremony.server_trustee",
        target=election_target(election.id),
        details={"ceremony_id": ceremony_id, "box_public_key": box_public.hex()},
    )
    await _complete_if_done(session, election, now=now)


# --- The trustees' steps ------------------------------------------------------------------


async def _as_trustee(
    session: AsyncSession, principal: Principal, *, election_id: str, index: int
) -> Election:
    """The election, locked and in draft, if ``principal`` is its trustee ``index``:
    404 for whoever may not read the election (``access.readable_by``), 403 for anyone else
    who is not trustee ``index``, 409 once it is not a draft."""
    assert principal.organisation_id is not None
    await election_for_reader(session, principal=principal, election_id=election_id)
    account = await session.scalar(
        select(CeremonyTrustee.account_id).where(
            CeremonyTrustee.election_id == election_id, CeremonyTrustee.trustee_index == index
        )
    )
    if account is None or account != principal.subject or not principal.has_role(Role.TRUSTEE):
        raise Forbidden(f"Only trustee {index} of this election may do this.")
    return await election_for_change(
        session, organisation_id=principal.organisation_id, election_id=election_id
    )


async def _insert_step(
    session: AsyncSession,
    election_id: str,
    index: int,
    step: str,
    payload: dict[str, Any],
    *,
    now: datetime,
) -> None:
    await session.execute(
        insert(CeremonyStep).values(
            election_id=election_id,
            trustee_index=index,
            step=step,
            payload=payload,
            created_at=now,
        )
    )


async def _fix_manifest(session: AsyncSession, election_id: str, manifest: Manifest) -> None:
    await session.execute(
        update(KeyCeremony)
        .where(KeyCeremony.election_id == election_id)
        .values(manifest=manifest.to_json(), manifest_hash=manifest.manifest_hash.hex())
    )


def _refuse_if_over(loaded: Loaded) -> None:
    if loaded.disqualified():
        raise Conflict(
            "The ceremony failed (a trustee was disqualified); the organiser must restart it."
        )
    if loaded.complete:
        raise Conflict("The ceremony is complete.")


async def register(
    session: AsyncSession,
    *,
    principal: Principal,
    election_id: str,
    index: int,
    box_public_key: bytes,
    now: datetime,
) -> None:
    """Step 1: trustee ``index`` publishes its box public key (once)."""
    election = await _as_trustee(session, principal, election_id=election_id, index=index)
    loaded = await load(session, election)
    existing = loaded.box_key(index)
    if existing is not None:
        if existing == box_public_key:
            return  # the same step again: nothing to do
        raise Conflict(
            f"Trustee {index} has registered another box key; to change it the organiser "
            "must restart the ceremony."
        )
    if box_public_key == bytes(32):
        raise InvalidInput("The box public key must not be all zeros.")
    if box_public_key in {loaded.box_key(t.trustee_index) for t in loaded.trustees}:
        raise InvalidInput("Another trustee of this election registered this box key.")
    await _insert_step(
        session, election_id, index, "register", {"box_public_key": box_public_key.hex()}, now=now
    )
    await audit.record(
        session,
        service=SERVICE,
        actor=f"admin:{principal.subject}",
        action="ceremony.register",
        target=election_target(election_id),
        details={"trustee": index, "box_public_key": box_public_key.hex()},
    )


async def _parameters_for_step(
    session: AsyncSession, loaded: Loaded, ceremony_hash: str
) -> tuple[CeremonyParameters, Manifest]:
    if missing := loaded.without("register"):
        raise Conflict(f"Waiting for the box public keys of trustees {_names(loaded, missing)}.")
    manifest = loaded.fixed_manifest
    if manifest is None:
        try:
            manifest = await current_manifest(session, loaded.election)
        except ManifestNotReady as exc:
            raise Conflict(f"The questions are not ready for the key yet: {exc}.") from None
    params = loaded.parameters(manifest)
    assert params is not None
    if params.ceremony_hash.hex() != ceremony_hash:
        raise Conflict("The ceremony parameters have changed: fetch them again.")
    return params, manifest


async def post_dealing(
    session: AsyncSession,
    *,
    principal: Principal,
    election_id: str,
    index: int,
    data: DealingIn,
    now: datetime,
) -> None:
    """Step 2: trustee ``index``'s commitment (verified) and its n-1 sealed shares."""
    election = await _as_trustee(session, principal, election_id=election_id, index=index)
    loaded = await load(session, election)
    commitment_json = data.commitment.model_dump()
    shares = sorted(data.shares, key=lambda s: s.recipient)
    existing = loaded.step(index, "deal")
    if existing is not None:
        stored = (
            await session.scalars(
                select(CeremonyShare)
                .where(CeremonyShare.election_id == election_id, CeremonyShare.sender == index)
                .order_by(CeremonyShare.recipient)
            )
        ).all()
        if existing.payload["commitment"] == commitment_json and [
            (s.recipient, s.sealed_box) for s in stored
        ] == [(s.recipient, bytes.fromhex(s.sealed_box)) for s in shares]:
            return
        raise Conflict(f"Trustee {index} has already dealt in this ceremony.")
    _refuse_if_over(loaded)
    params, manifest = await _parameters_for_step(session, loaded, data.ceremony_hash)
    if data.commitment.index != index:
        raise InvalidInput(f"The commitment must be trustee {index}'s own.")
    try:
        commitment = TrusteeCommitment.from_json(commitment_json)
    except ValueError:
        raise InvalidInput("The commitment is malformed (points must be canonical).") from None
    if not verify_commitment(params=params, commitment=commitment):
        raise InvalidInput(
            f"The commitment is invalid: it needs exactly {params.threshold} coefficient "
            "commitments, none the identity, and a valid proof of knowledge for these "
            "ceremony parameters."
        )
    others = [t.trustee_index for t in loaded.trustees if t.trustee_index != index]
    if any(s.sender != index for s in shares) or [s.recipient for s in shares] != others:
        raise InvalidInput(
            f"Send exactly one sealed share to each other trustee ({len(others)}), "
            f"with sender {index}."
        )
    if loaded.fixed_manifest is None:
        await _fix_manifest(session, election_id, manifest)
    await _insert_step(
        session, election_id, index, "deal", {"commitment": commitment_json}, now=now
    )
    if shares:
        await session.execute(
            insert(CeremonyShare),
            [
                {
                    "election_id": election_id,
                    "sender": index,
                    "recipient": s.recipient,
                    "sealed_box": bytes.fromhex(s.sealed_box),
                }
                for s in shares
            ],
        )
    await audit.record(
        session,
        service=SERVICE,
        actor=f"admin:{principal.subject}",
        action="ceremony.deal",
        target=election_target(election_id),
        details={
            "trustee": index,
            "ceremony_hash": data.ceremony_hash,
            "shares": len(shares),
            "manifest_hash": manifest.manifest_hash.hex(),
        },
    )


async def shares_for(
    session: AsyncSession, *, principal: Principal, election_id: str, index: int
) -> SharesOut:
    """The sealed shares addressed to trustee ``index`` (only it can open them)."""
    election = await _as_trustee(session, principal, election_id=election_id, index=index)
    loaded = await load(session, election)
    manifest = loaded.fixed_manifest
    params = loaded.parameters(manifest) if manifest is not None else None
    if params is None or loaded.ceremony is None:
        raise Conflict("No trustee has dealt yet.")
    rows = (
        await session.scalars(
            select(CeremonyShare)
            .where(CeremonyShare.election_id == election_id, CeremonyShare.recipient == index)
            .order_by(CeremonyShare.sender)
        )
    ).all()
    return SharesOut(
        ceremony_id=loaded.ceremony.ceremony_id,
        ceremony_hash=params.ceremony_hash.hex(),
        shares=[EncryptedShare(r.sender, r.recipient, r.sealed_box).to_json() for r in rows],
    )


async def post_verification(
    session: AsyncSession,
    *,
    principal: Principal,
    election_id: str,
    index: int,
    data: VerificationIn,
    now: datetime,
) -> None:
    """Step 3: trustee ``index`` accepts its shares, or accuses the senders of bad ones."""
    election = await _as_trustee(session, principal, election_id=election_id, index=index)
    loaded = await load(session, election)
    payload = {
        "result": data.result,
        "complaints": [c.model_dump() for c in sorted(data.complaints, key=lambda c: c.accused)],
    }
    existing = loaded.step(index, "verify")
    if existing is not None:
        if existing.payload == payload:
            return
        raise Conflict(f"Trustee {index} has already reported on its shares.")
    _refuse_if_over(loaded)
    await _parameters_for_step(session, loaded, data.ceremony_hash)
    if missing := loaded.without("deal"):
        raise Conflict(
            f"Waiting for the commitments and shares of trustees {_names(loaded, missing)}."
        )
    for complaint in data.complaints:
        if complaint.accused == index or complaint.accused > loaded.size:
            raise InvalidInput(f"Trustee {complaint.accused} cannot be accused by trustee {index}.")
    await _insert_step(session, election_id, index, "verify", payload, now=now)
    for complaint in data.complaints:
        session.add(
            CeremonyComplaint(
                election_id=election_id,
                accuser=index,
                accused=complaint.accused,
                reason=complaint.reason,
                created_at=now,
            )
        )
    await session.flush()
    await audit.record(
        session,
        service=SERVICE,
        actor=f"admin:{principal.subject}",
        action="ceremony.verify",
        target=election_target(election_id),
        details={
            "trustee": index,
            "result": data.result,
            "accused": [c.accused for c in data.complaints],
        },
    )
    await _complete_if_done(session, election, now=now)


async def post_answer(
    session: AsyncSession,
    *,
    principal: Principal,
    election_id: str,
    index: int,
    accuser: int,
    share_hex: str,
    now: datetime,
) -> str:
    """Step 4: trustee ``index`` answers ``accuser``'s complaint by revealing f_index(accuser)
    publicly. Returns the resolution: ``answered`` or ``disqualified``."""
    election = await _as_trustee(session, principal, election_id=election_id, index=index)
    loaded = await load(session, election)
    complaint = next(
        (c for c in loaded.complaints if c.accuser == accuser and c.accused == index), None
    )
    if complaint is None:
        raise NotFound(f"Trustee {accuser} has no complaint against trustee {index}.")
    if complaint.resolution is not None:
        if complaint.revealed_share == share_hex:
            return complaint.resolution
        raise Conflict("This complaint has already been answered.")
    _refuse_if_over(loaded)
    try:
        revealed = Scalar.from_hex(share_hex)
    except ValueError:
        raise InvalidInput("The share must be a canonical scalar (32 bytes, hex).") from None
    commitment = loaded.commitments()[index]
    answered = resolve_complaint(
        complaint=Complaint(accuser, index, complaint.reason),
        commitment=commitment,
        revealed_share=revealed,
    )
    resolution = "answered" if answered else "disqualified"
    result = await session.execute(
        update(CeremonyComplaint)
        .where(
            CeremonyComplaint.election_id == election_id,
            CeremonyComplaint.accuser == accuser,
            CeremonyComplaint.accused == index,
            CeremonyComplaint.resolution.is_(None),
        )
        .values(revealed_share=share_hex, resolution=resolution, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("This complaint has already been answered.")
    await audit.record(
        session,
        service=SERVICE,
        actor=f"admin:{principal.subject}",
        action="ceremony.answer",
        target=election_target(election_id),
        details={"trustee": index, "accuser": accuser, "resolution": resolution},
    )
    if answered:
        await _complete_if_done(session, election, now=now)
    return resolution


async def _complete_if_done(session: AsyncSession, election: Election, *, now: datetime) -> None:
    """Every trustee dealt and verified, every complaint answered: set the joint key."""
    loaded = await load(session, election)
    if (
        loaded.ceremony is None
        or loaded.complete
        or loaded.without("deal")
        or loaded.without("verify")
        or any(c.resolution != "answered" for c in loaded.complaints)
    ):
        return
    key = joint_public_key(loaded.commitments().values())
    if key.is_identity():  # negligible probability; never use such a key
        raise Conflict("The joint key is the identity; restart the ceremony.")
    await session.execute(
        update(KeyCeremony).where(KeyCeremony.election_id == election.id).values(completed_at=now)
    )
    election.joint_public_key = key.to_bytes()
    election.updated_at = now
    await session.flush()
    await audit.record(
        session,
        service=SERVICE,
        actor="system:key-ceremony",
        action="ceremony.complete",
        target=election_target(election.id),
        details={
            "ceremony_id": loaded.ceremony.ceremony_id,
            "joint_public_key": key.hex(),
            "manifest_hash": loaded.ceremony.manifest_hash,
        },
    )


# --- Freezing -----------------------------------------------------------------------------


async def freeze_missing(session: AsyncSession, election: Election) -> list[str]:
    """What the ceremony still lacks for freezing (the trustee count is checked apart)."""
    if election.trustee_count is None or election.threshold is None:
        return []
    loaded = await load(session, election)
    if len(loaded.trustees) != election.trustee_count:
        return [f"trustees not named ({len(loaded.trustees)} of {election.trustee_count})"]
    status, detail, _, stale = await status_of(session, loaded)
    if status == "failed":
        return ["key ceremony failed: " + detail]
    if status != "complete":
        return [f"key ceremony not complete ({status}): {detail}"]
    if stale:
        return [STALE_MESSAGE]
    return []


async def frozen_context(session: AsyncSession, election: Election) -> tuple[dict[str, Any], str]:
    """The context document ({manifest, trustees, threshold}) and the election hash (hex)
    of the complete ceremony, checked (protocol §11 checks 2-4)."""
    loaded = await load(session, election)
    context = loaded.context()
    problems = context.problems()
    if problems or context.joint_key.to_bytes() != election.joint_public_key:
        raise Conflict("The key ceremony's record is inconsistent: " + "; ".join(problems))
    document = {
        "manifest": context.manifest.to_json(),
        "trustees": trustees_document(context),
        "threshold": context.threshold,
    }
    return document, context.election_hash.hex()
