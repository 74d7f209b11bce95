"""The election record of a published election, written from the database (protocol §10).

Same archive as ``securevote.record.write_record`` (the same file names, RFC 8785 documents
and fixed timestamps), but the board is streamed: ballots are copied in board order as the
exact JCS text the voting service stored, so a million-ballot board never sits in memory as
objects. Heads come with RFC 9162 consistency proofs from the board's Merkle tree.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from results_service import election_data as data
from results_service.models import DecryptionShareSet
from results_service.service import Published
from securevote.crypto.hashing import canonical_json
from securevote.crypto.merkle import MerkleTree
from securevote.db import Database
from securevote.record import (
    AGGREGATE_FILE,
    BALLOTS_FILE,
    CONTEXT_FILE,
    HEADS_FILE,
    MANIFEST_FILE,
    RESULTS_FILE,
    SHARES_FILE,
    SPOILED_FILE,
    TRUSTEES_FILE,
    context_document,
    head_document,
    trustees_document,
)

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, _FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


async def write_published_record(
    database: Database, *, view: Published, board_public_key: bytes, path: Path
) -> None:
    election_id = view.election.id
    context = view.context
    election_hash = context.election_hash
    async with database.session() as session:
        leaves = [leaf async for leaf in data.leaf_hashes(session, election_id)]
        heads = await data.board_heads(session, election_id, election_hash)
        spoiled = await data.spoiled_ballots(session, election_id)
        rows = await session.scalars(
            select(DecryptionShareSet)
            .where(DecryptionShareSet.election_id == election_id)
            .order_by(DecryptionShareSet.trustee_index)
        )
        share_rows = [{"trustee": row.trustee_index, "shares": row.shares} for row in rows]
    tree = MerkleTree(leaves)
    head_documents: list[dict[str, Any]] = []
    previous = None
    for head in heads:
        proof = None if previous is None else tree.consistency_proof(previous.size, head.size)
        head_documents.append(head_document(head, proof))
        previous = head
    documents: dict[str, Any] = {
        MANIFEST_FILE: context.manifest.to_json(),
        CONTEXT_FILE: context_document(context, board_public_key=board_public_key),
        TRUSTEES_FILE: trustees_document(context),
        HEADS_FILE: head_documents,
        SPOILED_FILE: spoiled,
        AGGREGATE_FILE: list(view.tally.aggregate),
        SHARES_FILE: share_rows,
        RESULTS_FILE: view.result.counts,
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, document in documents.items():
            archive.writestr(_info(name), canonical_json(document))
        async with database.session() as session:
            with archive.open(_info(BALLOTS_FILE), "w", force_zip64=True) as out:
                async for ballot in data.board_ballots(session, election_id):
                    out.write(ballot.encode() + b"\n")
