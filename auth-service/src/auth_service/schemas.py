"""Request and response bodies. Requests are strict: unknown fields, wrong types and values
outside the limits are refused (422) before any handler runs."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from securevote.auth import Role

_EMAIL = re.compile(r"^[^\s@\"(),:;<>\[\\\]]{1,64}@(?:[\w-]{1,63}\.)+[\w-]{2,63}$")
_REFRESH_TOKEN = r"^[A-Za-z0-9_-]{16,128}$"  # noqa: S105 - a pattern, not a secret


def _email(value: str) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if len(value) > 320 or not value.isprintable() or not _EMAIL.match(value):
        raise ValueError("not an e-mail address")
    return value


def _display_name(value: str) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if not value or not value.isprintable():
        raise ValueError("must be printable text, not empty")
    return value


Email = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_email)]
DisplayName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_display_name)]
# Passwords are taken exactly as typed (never stripped or normalised). New ones need 12
# characters; the upper bound keeps hashing cheap for the server.
NewPassword = Annotated[str, Field(min_length=12, max_length=1024)]
GivenPassword = Annotated[str, Field(min_length=1, max_length=1024)]
TotpCode = Annotated[str, Field(pattern=r"^[0-9]{6}$")]
RefreshTokenText = Annotated[str, Field(pattern=_REFRESH_TOKEN)]
# FastAPI validates the decoded JSON as Python objects, where strict mode would refuse the
# role's string value; the enum still admits only its four values.
RoleName = Annotated[Role, Field(strict=False)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LoginRequest(Request):
    # Any address-like text up to the limit: a login never says which addresses exist.
    email: Annotated[str, Field(min_length=1, max_length=320)]
    password: GivenPassword
    totp_code: TotpCode | None = None


class RefreshRequest(Request):
    refresh_token: RefreshTokenText


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105
    expires_in: int = Field(description="seconds until the access token expires")
    refresh_token: str
    refresh_expires_in: int = Field(description="seconds until the refresh token expires")


class AccountCreate(Request):
    email: Email
    display_name: DisplayName
    role: RoleName
    password: NewPassword


class AccountUpdate(Request):
    display_name: DisplayName | None = None
    role: RoleName | None = None
    disabled: bool | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> AccountUpdate:
        if self.display_name is None and self.role is None and self.disabled is None:
            raise ValueError("nothing to change")
        return self


class AccountOut(BaseModel):
    id: str
    organisation_id: str
    email: str
    display_name: str
    role: Role
    totp_enabled: bool
    disabled: bool
    locked: bool
    created_at: datetime
    updated_at: datetime


class AccountList(BaseModel):
    accounts: list[AccountOut]


class OrganisationOut(BaseModel):
    id: str
    name: str


class MeOut(BaseModel):
    account: AccountOut
    organisation: OrganisationOut


class PasswordChange(Request):
    current_password: GivenPassword
    new_password: NewPassword


class TotpEnrolRequest(Request):
    password: GivenPassword


class TotpEnrolment(BaseModel):
    otpauth_uri: str = Field(description="shown once; authenticator apps read it from a QR code")
    secret: str = Field(description="the same secret in base32, for typing in by hand")


class TotpConfirm(Request):
    code: TotpCode


class TotpDisable(Request):
    password: GivenPassword
    code: TotpCode


# --- Voter access ------------------------------------------------------------------------

VoterTokenText = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{20,128}$")]


class RedeemRequest(Request):
    token: VoterTokenText
    # The date of birth as the voter types it (YYYY-MM-DD or DD.MM.YYYY), when asked for.
    roll_secret: Annotated[str, Field(min_length=1, max_length=32)] | None = None


class VoterSessionOut(BaseModel):
    session_token: str = Field(description="a voter JWT: election id, credential, expiry")
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105
    expires_in: int = Field(description="seconds until the session ends")
    election_id: str


class DeliveryReportOut(BaseModel):
    election_id: str
    state: str
    voters: int
    tokens_issued: int = Field(description="voters who have been issued a token")
    messages: dict[str, dict[str, int]] = Field(description="kind -> status -> count")
    failed_voters: int = Field(description="voters with at least one permanently failed mail")


class DeliveryFailureOut(BaseModel):
    voter_id: int | None
    credential: str
    kind: str
    reason: str
    attempts: int
    failed_at: datetime


class DeliveryFailureList(BaseModel):
    failures: list[DeliveryFailureOut]


class QueuedOut(BaseModel):
    queued: int


class ResendOut(BaseModel):
    message_id: str


class DevMailOut(BaseModel):
    id: int
    to: str
    subject: str
    text: str
    html: str
    created_at: datetime


class DevMailList(BaseModel):
    mails: list[DevMailOut]
