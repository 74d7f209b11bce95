"""Request and response models of the results API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

HEX32 = r"^[0-9a-f]{64}$"


class DleqIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    challenge: str = Field(pattern=HEX32)
    response: str = Field(pattern=HEX32)


class ShareIn(BaseModel):
    """One option's share: D_j = s_j·pad(A) with its Chaum-Pedersen proof."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=200)
    option: str = Field(min_length=1, max_length=200)
    share: str = Field(pattern=HEX32)
    proof: DleqIn


class SharesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trustee: int = Field(ge=1, le=1000)
    shares: list[ShareIn] = Field(max_length=10_000)


class ShareOutcomeOut(BaseModel):
    trustee: int
    shares_from: list[int]
    threshold: int
    decrypted: bool


class TallyOut(BaseModel):
    status: str  # not_started | running | done | failed
    processed: int
    total: int
    percent: float
    board_size: int | None
    board_root: str | None
    started_at: datetime | None
    finished_at: datetime | None
    failure: str | None  # failed: which board index and why (never the ballot)
    failed_at: datetime | None
    threshold: int
    shares_from: list[int]
    decrypted: bool
    published: bool


class AggregateOut(BaseModel):
    election_id: str
    election_hash: str
    threshold: int
    ballots: int
    aggregate: list[dict[str, Any]]


class RejectedShareOut(BaseModel):
    trustee: int
    reason: str
    submitted_by: str
    submitted_at: datetime


class PublishOut(BaseModel):
    election_id: str
    published_at: datetime
    already_published: bool
