"""Builders for the protocol tests: a small election with a real 3-trustee ceremony and record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from securevote.ballots import (
    ElectionContext,
    Manifest,
    OptionDefinition,
    QuestionDefinition,
    aggregate_ballots,
    counted_ballots,
    encrypt_ballot,
    tally_label,
)
from securevote.crypto.merkle import MerkleTree, TreeHead, generate_signing_keypair, sign_tree_head
from securevote.crypto.threshold import (
    CeremonyParameters,
    KeyShare,
    TrusteeIdentity,
    compute_decryption_share,
    deal,
    generate_box_keypair,
    receive_shares,
)
from securevote.record import ElectionRecord, SpoiledBallot, build_record, decrypt_tally


def make_manifest() -> Manifest:
    def options(count: int) -> tuple[OptionDefinition, ...]:
        return tuple(OptionDefinition(id=f"o{i}", label=f"Option {i}") for i in range(1, count + 1))

    return Manifest(
        election_id="test-election",
        title="Test election",
        questions=(
            QuestionDefinition(
                id="chair", label="Chair", options=options(3), min_selections=1, max_selections=1
            ),
            QuestionDefinition(
                id="board", label="Board", options=options(4), min_selections=0, max_selections=2
            ),
            QuestionDefinition(
                id="motions",
                label="Motions",
                options=options(2),
                min_selections=0,
                max_selections=2,
            ),
        ),
    )


@dataclass(frozen=True)
class Election:
    context: ElectionContext
    key_shares: dict[int, KeyShare]


def run_election_setup(manifest: Manifest, n: int = 3, k: int = 2) -> Election:
    boxes = {i: generate_box_keypair() for i in range(1, n + 1)}
    trustees = tuple(TrusteeIdentity(i, f"trustee-{i}", boxes[i][0]) for i in boxes)
    params = CeremonyParameters(
        manifest_hash=manifest.manifest_hash, threshold=k, trustees=trustees
    )
    dealings = {i: deal(params=params, index=i) for i in boxes}
    commitments = {i: d.commitment for i, d in dealings.items()}
    all_shares = [box for d in dealings.values() for box in d.shares]
    key_shares = {}
    for i, (public, secret) in boxes.items():
        share, complaints = receive_shares(
            params=params,
            index=i,
            box_public_key=public,
            box_secret_key=secret,
            commitments=commitments,
            shares=all_shares,
        )
        assert share is not None and not complaints
        key_shares[i] = share
    context = ElectionContext(manifest, k, trustees, tuple(commitments[i] for i in boxes))
    return Election(context, key_shares)


@dataclass(frozen=True)
class HonestRecord:
    election: Election
    record: ElectionRecord
    board_secret_key: bytes


def make_record(
    election: Election,
    votes: list[dict[str, list[str]]],
    *,
    spoil: int = 1,
    trustees: tuple[int, ...] = (1, 2, 3),
    revotes: Sequence[tuple[int, dict[str, list[str]]]] = (),
) -> HonestRecord:
    """Run a whole small election: cast `votes`, spoil some, tally with `trustees`.

    `revotes` are (voter number, choices) cast after everyone else, superseding that voter's
    first ballot (an election with re-voting)."""
    context = election.context
    key, eh = context.joint_key, context.election_hash
    ballots = [
        encrypt_ballot(
            manifest=context.manifest,
            public_key=key,
            election_hash=eh,
            credential=f"voter-{i}",
            choices=choice,
        )[0]
        for i, choice in [*enumerate(votes), *revotes]
    ]
    spoiled = []
    for i in range(spoil):
        ballot, seed = encrypt_ballot(
            manifest=context.manifest,
            public_key=key,
            election_hash=eh,
            credential=f"voter-{i}",
            choices=votes[i % len(votes)],
        )
        spoiled.append(SpoiledBallot(ballot, seed, votes[i % len(votes)]))
    board_public, board_secret = generate_signing_keypair(b"\x09" * 32)
    tree = MerkleTree()
    heads: list[tuple[TreeHead, list[bytes] | None]] = []
    previous = 0
    for size in sorted({len(ballots) // 2, len(ballots)}):
        while tree.size < size:
            tree.append(ballots[tree.size].tracker)
        head = sign_tree_head(
            election_hash=eh,
            size=size,
            root=tree.root(size),
            timestamp=1_700_000_000 + size,
            secret_key=board_secret,
        )
        proof = tree.consistency_proof(previous, size) if heads else None
        heads.append((head, proof))
        previous = size
    aggregate = aggregate_ballots(counted_ballots(ballots), context.manifest)
    shares = {
        t: {
            k: compute_decryption_share(
                key_share=election.key_shares[t],
                ciphertext=c,
                election_hash=eh,
                label=tally_label(*k),
            )
            for k, c in aggregate.items()
        }
        for t in trustees
    }
    counts = decrypt_tally(context=context, aggregate=aggregate, shares=shares)
    record = build_record(
        context=context,
        board_public_key=board_public,
        ballots=ballots,
        heads=heads,
        spoiled=spoiled,
        aggregate=aggregate,
        shares=shares,
        counts=counts,
    )
    return HonestRecord(election, record, board_secret)


VOTES = [
    {"chair": ["o1"], "board": ["o1", "o2"], "motions": ["o1"]},
    {"chair": ["o2"], "board": [], "motions": ["o1", "o2"]},
    {"chair": ["o1"], "board": ["o3"], "motions": []},
    {"chair": ["o3"], "board": ["o2", "o4"], "motions": ["o2"]},
    {"chair": ["o1"], "board": ["o2"], "motions": []},
]
