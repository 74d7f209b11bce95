"""Request and response models. Inputs are validated strictly at the edge: lengths, formats,
no unknown fields, no control characters in text, timezone-aware times."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, available_timezones

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f]")
MAX_QUESTIONS = 100
MAX_OPTIONS = 200
MAX_TRUSTEES = 100


def _single_line(value: str) -> str:
    if _CONTROL_OR_NEWLINE.search(value):
        raise ValueError("must be one line without control characters")
    return value


def _text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _time_zone(value: str) -> str:
    if value not in _time_zones():
        raise ValueError("must be an IANA time zone name such as Europe/Zurich")
    return value


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_single_line),
]
LongTitle = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(_single_line),
]
Description = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(_text)]
ShortDescription = Annotated[str, StringConstraints(max_length=2_000), AfterValidator(_text)]
TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_time_zone)]
UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]
TrusteeCount = Annotated[StrictInt, Field(ge=1, le=MAX_TRUSTEES)]
SecondFactor = Literal["none", "date_of_birth"]
State = Literal["draft", "frozen", "open", "closed", "tallied", "published"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ElectionSettings(Strict):
    allow_revoting: StrictBool = False
    second_factor: SecondFactor = "none"


def _check_window(opens_at: datetime | None, closes_at: datetime | None) -> None:
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        raise ValueError("closes_at must be after opens_at")


def _check_trustees(count: int | None, threshold: int | None) -> None:
    if (count is None) != (threshold is None):
        raise ValueError("trustee_count and threshold go together")
    if count is not None and threshold is not None and threshold > count:
        raise ValueError("threshold cannot exceed trustee_count")


class ElectionCreate(Strict):
    title: Title
    description: Description = ""
    time_zone: TimeZone
    opens_at: UtcTime
    closes_at: UtcTime
    settings: ElectionSettings = Field(default_factory=ElectionSettings)
    trustee_count: TrusteeCount | None = None
    threshold: TrusteeCount | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_window(self.opens_at, self.closes_at)
        _check_trustees(self.trustee_count, self.threshold)
        return self


class ElectionUpdate(Strict):
    """A partial update: only the fields sent change. ``trustee_count`` and ``threshold``
    may be set to null together (no trustees chosen yet)."""

    title: Title | None = None
    description: Description | None = None
    time_zone: TimeZone | None = None
    opens_at: UtcTime | None = None
    closes_at: UtcTime | None = None
    settings: ElectionSettings | None = None
    trustee_count: TrusteeCount | None = None
    threshold: TrusteeCount | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        nullable = {"trustee_count", "threshold"}
        for name in self.model_fields_set - nullable:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if ("trustee_count" in self.model_fields_set) != ("threshold" in self.model_fields_set):
            raise ValueError("trustee_count and threshold go together")
        _check_trustees(self.trustee_count, self.threshold)
        _check_window(self.opens_at, self.closes_at)
        return self


class OptionIn(Strict):
    title: LongTitle
    description: ShortDescription = ""


class QuestionIn(Strict):
    """A question: select between ``min_selections`` and ``max_selections`` of ``options``.

    Presets: ``plurality`` is exactly 1; ``approval`` is 0 to the number of options; with
    ``k_of_n`` both bounds are given. A preset's bounds may be sent only if they match it.
    """

    title: LongTitle
    description: Description = ""
    kind: Literal["plurality", "approval", "k_of_n"]
    min_selections: Annotated[StrictInt, Field(ge=0, le=MAX_OPTIONS)] | None = None
    max_selections: Annotated[StrictInt, Field(ge=1, le=MAX_OPTIONS)] | None = None
    options: list[OptionIn] = Field(default_factory=list, max_length=MAX_OPTIONS)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.kind == "k_of_n":
            if self.min_selections is None or self.max_selections is None:
                raise ValueError("k_of_n needs min_selections and max_selections")
        else:
            low, high = self.preset_bounds()
            if self.min_selections not in (None, low) or self.max_selections not in (None, high):
                raise ValueError(f"{self.kind} sets the bounds itself ({low}..{high})")
        low, high = self.bounds()
        if high < low:
            raise ValueError("max_selections must be at least min_selections")
        titles = [option.title.casefold() for option in self.options]
        if len(set(titles)) != len(titles):
            raise ValueError("two options have the same title")
        return self

    def preset_bounds(self) -> tuple[int, int]:
        if self.kind == "plurality":
            return 1, 1
        return 0, max(len(self.options), 1)

    def bounds(self) -> tuple[int, int]:
        if self.kind == "k_of_n":
            assert self.min_selections is not None and self.max_selections is not None
            return self.min_selections, self.max_selections
        return self.preset_bounds()


class QuestionOrder(Strict):
    question_ids: list[uuid.UUID] = Field(max_length=MAX_QUESTIONS)


class OptionOut(BaseModel):
    id: str
    position: int
    title: str
    description: str


class QuestionOut(BaseModel):
    id: str
    position: int
    title: str
    description: str
    kind: str
    min_selections: int
    max_selections: int
    options: list[OptionOut]


class ElectionOut(BaseModel):
    id: str
    organisation_id: str
    title: str
    description: str
    time_zone: str
    opens_at: datetime
    closes_at: datetime
    opens_at_local: str
    closes_at_local: str
    settings: ElectionSettings
    state: State
    trustee_count: int | None
    threshold: int | None
    joint_public_key: str | None = Field(description="hex, once the key ceremony is done")
    server_trustee: bool = Field(
        description="demo mode: the server is the only trustee and holds the key share"
    )
    election_hash: str | None = Field(description="hex, fixed at freezing")
    voter_count: int
    questions: list[QuestionOut]
    created_at: datetime
    updated_at: datetime
    frozen_at: datetime | None
    opened_at: datetime | None
    closed_at: datetime | None
    tallied_at: datetime | None
    published_at: datetime | None


class ElectionSummary(BaseModel):
    id: str
    title: str
    state: State
    time_zone: str
    opens_at: datetime
    closes_at: datetime
    created_at: datetime


class Page(BaseModel):
    total: int
    page: int
    per_page: int


class ElectionPage(Page):
    items: list[ElectionSummary]


class Readiness(BaseModel):
    state: State
    next: State | None
    ready: bool
    missing: list[str]


class VoterOut(BaseModel):
    id: int
    email: str
    name: str | None
    external_id: str | None
    has_roll_secret: bool


class VoterPage(Page):
    items: list[VoterOut]


class RowErrorOut(BaseModel):
    line: int
    column: str | None
    reason: str


class ImportReport(BaseModel):
    encoding: str
    delimiter: str
    columns: list[str]
    ignored_columns: list[str]
    rows: int = Field(description="data rows in the file (blank lines not counted)")
    imported: int
    rejected: int
    errors: list[RowErrorOut]
    errors_truncated: bool


class RemovedVoters(BaseModel):
    removed: int


def local_iso(moment: datetime, time_zone: str) -> str:
    """The moment as local time with its offset in the election's time zone."""
    return moment.astimezone(ZoneInfo(time_zone)).isoformat()


# --- Key ceremony -------------------------------------------------------------------------

SERVER_TRUSTEE_NAME = "server trustee (demo only)"
COMPLAINT_REASONS = (
    "share could not be opened",
    "commitment missing or invalid",
    "share does not match commitments",
    "no share received",
)
_HEX = r"^(?:[0-9a-f]{2})+$"
Hex32 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
SealedBox = Annotated[
    str, StringConstraints(pattern=_HEX, min_length=2 * 48 + 2, max_length=2 * 1024)
]
TrusteeIndex = Annotated[StrictInt, Field(ge=1, le=MAX_TRUSTEES)]
ComplaintReason = Literal[
    "share could not be opened",
    "commitment missing or invalid",
    "share does not match commitments",
    "no share received",
]


def _not_server_trustee_name(value: str) -> str:
    if value.casefold() == SERVER_TRUSTEE_NAME.casefold():
        raise ValueError("this name is reserved for the demo server trustee")
    return value


TrusteeName = Annotated[Title, AfterValidator(_not_server_trustee_name)]


class TrusteeIn(Strict):
    account_id: uuid.UUID = Field(description="the trustee's account (role trustee)")
    name: TrusteeName = Field(description="shown in the election record")


MAX_OBSERVERS = 200


class ObserversIn(Strict):
    """The accounts (role observer) that observe this election; replaces the list."""

    account_ids: list[uuid.UUID] = Field(max_length=MAX_OBSERVERS)

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.account_ids)) != len(self.account_ids):
            raise ValueError("an account is named twice")
        return self


class ObserversOut(BaseModel):
    election_id: str
    account_ids: list[str] = Field(description="sorted")


class TrusteesIn(Strict):
    """Either ``trustees`` (in order: trustee 1, 2, …) and ``threshold``, or
    ``server_trustee: true`` alone (demo mode: n = k = 1)."""

    trustees: list[TrusteeIn] | None = Field(default=None, min_length=1, max_length=MAX_TRUSTEES)
    threshold: TrusteeIndex | None = None
    server_trustee: StrictBool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.server_trustee:
            if self.trustees is not None or self.threshold not in (None, 1):
                raise ValueError("server_trustee names no trustees (it is trustee 1 of 1)")
            return self
        if self.trustees is None or self.threshold is None:
            raise ValueError("give trustees and threshold, or server_trustee: true")
        if self.threshold > len(self.trustees):
            raise ValueError("threshold cannot exceed the number of trustees")
        if len({t.account_id for t in self.trustees}) != len(self.trustees):
            raise ValueError("an account is named twice")
        if len({t.name.casefold() for t in self.trustees}) != len(self.trustees):
            raise ValueError("two trustees have the same name")
        return self


class BoxKeyIn(Strict):
    box_public_key: Hex32 = Field(description="X25519 public key for receiving shares")


class SchnorrProofIn(Strict):
    challenge: Hex32
    response: Hex32


class CommitmentIn(Strict):
    index: TrusteeIndex
    coefficients: list[Hex32] = Field(min_length=1, max_length=MAX_TRUSTEES)
    proof: SchnorrProofIn


class EncryptedShareIn(Strict):
    sender: TrusteeIndex
    recipient: TrusteeIndex
    sealed_box: SealedBox


class DealingIn(Strict):
    ceremony_hash: Hex32 = Field(description="the parameters the trustee dealt for")
    commitment: CommitmentIn
    shares: list[EncryptedShareIn] = Field(max_length=MAX_TRUSTEES)


class ComplaintIn(Strict):
    accused: TrusteeIndex
    reason: ComplaintReason


class VerificationIn(Strict):
    ceremony_hash: Hex32
    result: Literal["ok", "complaints"]
    complaints: list[ComplaintIn] = Field(default_factory=list, max_length=MAX_TRUSTEES)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.result == "ok") != (not self.complaints):
            raise ValueError("'ok' has no complaints; 'complaints' has at least one")
        if len({c.accused for c in self.complaints}) != len(self.complaints):
            raise ValueError("a trustee is accused twice")
        return self


class AnswerIn(Strict):
    accuser: TrusteeIndex
    share: Hex32 = Field(description="f_accused(accuser), revealed publicly")


class CeremonyTrusteeOut(BaseModel):
    index: int
    account_id: str | None
    name: str
    box_public_key: str | None
    registered: bool
    committed: bool
    commitment: dict[str, Any] | None
    verification: Literal["pending", "ok", "complaints"]
    disqualified: bool


class ComplaintOut(BaseModel):
    accuser: int
    accused: int
    reason: str
    status: Literal["open", "answered", "disqualified"]
    revealed_share: str | None


CeremonyStatus = Literal[
    "not_configured", "registering", "dealing", "verifying", "complaints", "complete", "failed"
]


class CeremonyOut(BaseModel):
    election_id: str
    ceremony_id: str | None
    server_trustee: bool
    trustee_count: int | None
    threshold: int | None
    status: CeremonyStatus
    detail: str = Field(description="what the ceremony waits for, in words")
    stale: bool = Field(
        description="the questions (or title) changed after the parameters were fixed"
    )
    manifest: dict[str, Any] | None = Field(description="the manifest the key is for")
    manifest_hash: str | None
    ceremony_hash: str | None
    trustees: list[CeremonyTrusteeOut]
    complaints: list[ComplaintOut]
    disqualified: list[int]
    joint_public_key: str | None
    election_hash: str | None = Field(description="once complete (fixed at freezing)")


class SharesOut(BaseModel):
    ceremony_id: str
    ceremony_hash: str
    shares: list[dict[str, Any]]


class AuditEntryOut(BaseModel):
    id: int
    occurred_at: datetime
    service: str
    actor: str = Field(description="who acted; a voter's credential reads `voter`")
    action: str
    target: str = Field(description="the election, or `voter` for an entry about one voter")
    outcome: Literal["success", "failure", "denied"]
    details: dict[str, Any]
    hidden_details: list[str] = Field(
        description="detail keys left out here (voter credentials, client addresses); the "
        "entry hash covers them"
    )
    prev_hash: str
    entry_hash: str


class AuditPage(BaseModel):
    election_id: str
    items: list[AuditEntryOut] = Field(description="newest first")
    next_before: int | None = Field(description="pass as `before` for the next page")


class AuditChainOut(BaseModel):
    ok: bool
    entries: int = Field(description="entries checked (the whole log, every service)")
    head: str = Field(description="the hash of the last entry that fits the chain")
    first_broken_id: int | None
    reason: str
