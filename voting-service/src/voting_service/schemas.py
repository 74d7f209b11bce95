"""Request and response bodies of the voting service (docs/api-ballots.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

HEX32 = r"^[0-9a-f]{64}$"


class CastRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ballot: dict[str, Any] = Field(description="the encrypted ballot (docs/protocol.md §7.1)")


class SpoilRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ballot: dict[str, Any]
    seed: str = Field(pattern=HEX32, description="the ballot's 32-byte seed, revealed")
    choices: dict[str, list[str]] = Field(description="{question id: [selected option ids]}")


class ReceiptOut(BaseModel):
    election_hash: str
    tracker: str
    board_index: int
    tree_size: int
    root: str
    signature: str


class CastResponse(BaseModel):
    receipt: ReceiptOut
    inclusion_proof: list[str] = Field(
        description="the ballot's inclusion proof in the tree the receipt names"
    )
    board_public_key: str


class SpoilResponse(BaseModel):
    tracker: str
    spoiled: bool = True


class ContextResponse(BaseModel):
    election_id: str
    state: str
    allow_revoting: bool
    manifest: dict[str, Any]
    trustees: list[dict[str, Any]]
    threshold: int
    election_hash: str
    joint_key: str
    board_public_key: str


class BoardKeyResponse(BaseModel):
    algorithm: str = "Ed25519"
    public_key: str


class TreeHeadOut(BaseModel):
    election_hash: str
    size: int
    root: str
    timestamp: int
    signature: str


class BoardEntryOut(BaseModel):
    board_index: int
    tracker: str
    counted: bool = Field(description="false once a later ballot of the same voter superseded it")
    ballot: dict[str, Any]


class BoardPage(BaseModel):
    entries: list[BoardEntryOut]
    next_after: int | None = Field(description="pass as `after` for the next page; null at end")


class TrackerResponse(BaseModel):
    tracker: str
    board_index: int
    counted: bool
    head: TreeHeadOut
    inclusion_proof: list[str]


class HeadEntry(BaseModel):
    head: TreeHeadOut
    consistency: list[str] | None = Field(
        description="consistency proof from the previous head (null for the first)"
    )
    final: bool


class HeadsPage(BaseModel):
    heads: list[HeadEntry]
    sealed: bool


class LatestHead(BaseModel):
    head: TreeHeadOut
    final: bool


class ConsistencyResponse(BaseModel):
    first: int
    second: int
    proof: list[str]


class SpoiledEntry(BaseModel):
    id: int
    tracker: str
    ballot: dict[str, Any]
    seed: str
    choices: dict[str, list[str]]


class SpoiledPage(BaseModel):
    spoiled: list[SpoiledEntry]
    next_after: int | None
