"""Write the election records of every published election into a folder, from the database
the environment names (``SECUREVOTE_DATABASE_URL``, ``SECUREVOTE_DATABASE_SCHEMA``):

- ``election-record-ID.zip``, rebuilt from the rows by the code that builds the download of
  ``GET /api/results/elections/{id}/record``;
- ``stored-record-ID.zip``, the stored copy that download serves, when there is one (it is
  built at publication), its bytes checked against its header's size and SHA-256.

The restore drill (scripts/restore-drill.sh) runs it on a restored copy, then ``securevote
verify`` on each record: a rebuilt record verifies only if the board, the signed heads, the
tally, the decryption shares and the result all came back intact; a stored one only if what
voters download came back intact.

The board's public key is not in the database (the voting service derives it from its signing
seed), and a drill needs no secret: ``--board-public-key`` is the hex the live system serves at
``/api/ballots/board/key``. A wrong key fails the heads' signatures, so it is checked too.

Usage: python scripts/export_records.py DIR --board-public-key HEX
Prints the path of each record written, one per line. Exit 1 if a stored record does not match
its header (the other records are still written), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import sys
from pathlib import Path

from sqlalchemy import select

from results_service.models import Result
from results_service.record_export import write_published_record
from results_service.record_store import StoredRecord, record_bytes, stored_record
from results_service.service import published
from securevote.config import load_settings
from securevote.db import Database

_KEY = re.compile(r"^[0-9a-f]{64}$")


async def write_stored(database: Database, record: StoredRecord, path: Path) -> bool:
    """Write the stored archive to ``path``; whether it matches its header."""
    digest = hashlib.sha256()
    size = 0
    with path.open("wb") as target:
        try:
            async for piece in record_bytes(database, record):
                digest.update(piece)
                size += len(piece)
                target.write(piece)
        except RuntimeError:  # a chunk is missing
            return False
    return size == record.size and digest.hexdigest() == record.sha256


async def export(folder: Path, board_public_key: bytes | None) -> tuple[list[Path], list[str]]:
    """The records written, and what is wrong with the stored ones."""
    database = Database(load_settings())
    try:
        async with database.session() as session:
            elections = list(
                await session.scalars(
                    select(Result.election_id)
                    .where(Result.published_at.is_not(None))
                    .order_by(Result.election_id)
                )
            )
        if elections and board_public_key is None:
            raise SystemExit(
                f"export_records: {len(elections)} published election(s) and no "
                "--board-public-key: take it from GET /api/ballots/board/key"
            )
        written: list[Path] = []
        problems: list[str] = []
        for election_id in elections:
            rebuilt = folder / f"election-record-{election_id}.zip"
            view = await published(database, election_id=election_id)
            await write_published_record(
                database, view=view, board_public_key=board_public_key or b"", path=rebuilt
            )
            written.append(rebuilt)
            stored = await stored_record(database, election_id)
            if stored is not None:
                copy = folder / f"stored-record-{election_id}.zip"
                if not await write_stored(database, stored, copy):
                    problems.append(f"the stored record of {election_id} does not match its header")
                written.append(copy)
        return written, problems
    finally:
        await database.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="an existing folder for the records")
    parser.add_argument("--board-public-key", help="64 hex digits (Ed25519 public key)")
    args = parser.parse_args(argv)
    key = args.board_public_key.strip().lower() if args.board_public_key else None
    if key is not None and not _KEY.fullmatch(key):
        parser.error("--board-public-key must be 64 hexadecimal digits")
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    written, problems = asyncio.run(export(args.folder, bytes.fromhex(key) if key else None))
    for path in written:
        print(path)
    for problem in problems:
        print(f"export_records: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
