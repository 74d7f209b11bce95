"""Organisations and accounts: creation (the first owner from the CLI, the rest by owners),
reading, changing, and every function and object check that goes with it.

Function checks use the caller's role as the database has it now, not as the token said
when it was issued (a demoted owner loses the right at once). Object checks look objects up
within the caller's organisation only, so another organisation's objects are "not found".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.context import SERVICE, AuthContext
from auth_service.errors import (
    AccountInactive,
    Conflict,
    NotAllowed,
    NotFound,
)
from auth_service.identity import comparison_key, new_id, normalise
from auth_service.models import Account, Organisation, RefreshToken
from securevote import audit
from securevote.auth import Principal, PrincipalKind, Role

MANAGE_ACCOUNTS = frozenset({Role.OWNER})
READ_ACCOUNTS = frozenset({Role.OWNER, Role.ADMIN})


def actor_of(account: Account) -> str:
    return f"account:{account.id}"


async def active_account(
    session: AsyncSession, principal: Principal, *, for_update: bool = False
) -> Account:
    """The caller's account, as it is now; AccountInactive if gone or disabled."""
    if principal.kind is not PrincipalKind.ADMIN:
        raise NotAllowed("This needs an administrator.")
    account = await session.get(Account, principal.subject, with_for_update=for_update)
    if (
        account is None
        or account.disabled_at is not None
        or account.organisation_id != principal.organisation_id
    ):
        raise AccountInactive("This account is no longer active.")
    return account


def _require_role(account: Account, allowed: frozenset[Role]) -> None:
    if Role(account.role) not in allowed:
        raise NotAllowed("Your role does not allow this.")


async def _account_in_organisation(
    session: AsyncSession, *, organisation_id: str, account_id: str, for_update: bool = False
) -> Account:
    query = select(Account).where(
        Account.id == account_id, Account.organisation_id == organisation_id
    )
    if for_update:
        query = query.with_for_update()
    account = await session.scalar(query)
    if account is None:
        raise NotFound("No such account.")
    return account


async def _insert_account(
    session: AsyncSession,
    ctx: AuthContext,
    *,
    organisation_id: str,
    email: str,
    display_name: str,
    role: Role,
    password_hash: str,
) -> Account:
    email = normalise(email)
    email_key = comparison_key(email)
    if await session.scalar(select(Account.id).where(Account.email_key == email_key)):
        raise Conflict("An account with this e-mail address already exists.")
    now = ctx.now()
    account = Account(
        id=new_id(),
        organisation_id=organisation_id,
        email=email,
        email_key=email_key,
        display_name=normalise(display_name),
        role=role.value,
        password_hash=password_hash,
        failed_logins=0,
        created_at=now,
        updated_at=now,
    )
    try:  # the unique constraint decides when two requests race for one address
        async with session.begin_nested():
            session.add(account)
    except IntegrityError as exc:
        raise Conflict("An account with this e-mail address already exists.") from exc
    return account


@dataclass(frozen=True)
class CreatedOwner:
    organisation: Organisation
    account: Account
    organisation_created: bool


async def create_owner(
    *, ctx: AuthContext, organisation_name: str, email: str, display_name: str, password: str
) -> CreatedOwner:
    """The operator's way in (``securevote admin create``): an owner, and the organisation
    too if no organisation has this name yet."""
    name = normalise(organisation_name)
    password_hash = await ctx.passwords.hash(password)  # before the transaction: it is slow
    async with ctx.database.session() as session:
        organisation = await session.scalar(
            select(Organisation).where(Organisation.name_key == comparison_key(name))
        )
        created = organisation is None
        if organisation is None:
            organisation = Organisation(
                id=new_id(), name=name, name_key=comparison_key(name), created_at=ctx.now()
            )
            session.add(organisation)
            await session.flush()
            await audit.record(
                session,
                service=SERVICE,
                actor="operator:cli",
                action="auth.organisation.create",
                target=f"organisation:{organisation.id}",
                details={"name": name},
            )
        account = await _insert_account(
            session,
            ctx,
            organisation_id=organisation.id,
            email=email,
            display_name=display_name,
            role=Role.OWNER,
            password_hash=password_hash,
        )
        await audit.record(
            session,
            service=SERVICE,
            actor="operator:cli",
            action="auth.account.create",
            target=actor_of(account),
            details={"organisation": organisation.id, "role": Role.OWNER.value},
        )
    return CreatedOwner(organisation, account, created)


async def create_account(
    *,
    ctx: AuthContext,
    principal: Principal,
    email: str,
    display_name: str,
    role: Role,
    password: str,
) -> Account:
    password_hash = await ctx.passwords.hash(password)  # before the transaction: it is slow
    async with ctx.database.session() as session:
        caller = await active_account(session, principal)
        _require_role(caller, MANAGE_ACCOUNTS)
        account = await _insert_account(
            session,
            ctx,
            organisation_id=caller.organisation_id,
            email=email,
            display_name=display_name,
            role=role,
            password_hash=password_hash,
        )
        await audit.record(
            session,
            service=SERVICE,
            actor=actor_of(caller),
            action="auth.account.create",
            target=actor_of(account),
            details={"organisation": caller.organisation_id, "role": role.value},
        )
    return account


async def list_accounts(*, ctx: AuthContext, principal: Principal) -> Sequence[Account]:
    async with ctx.database.session() as session:
        caller = await active_account(session, principal)
        _require_role(caller, READ_ACCOUNTS)
        query = (
            select(Account)
            .where(Account.organisation_id == caller.organisation_id)
            .order_by(Account.created_at, Account.id)
        )
        return (await session.scalars(query)).all()


async def get_account(*, ctx: AuthContext, principal: Principal, account_id: str) -> Account:
    async with ctx.database.session() as session:
        caller = await active_account(session, principal)
        _require_role(caller, READ_ACCOUNTS)
        return await _account_in_organisation(
            session, organisation_id=caller.organisation_id, account_id=account_id
        )


async def update_account(
    *,
    ctx: AuthContext,
    principal: Principal,
    account_id: str,
    display_name: str | None = None,
    role: Role | None = None,
    disabled: bool | None = None,
) -> Account:
    """Change an account of the caller's organisation. An organisation always keeps at
    least one active owner; disabling an account ends its login sessions."""
    async with ctx.database.session() as session:
        caller = await active_account(session, principal)
        _require_role(caller, MANAGE_ACCOUNTS)
        # Serialise changes within one organisation, so the last-owner check cannot race.
        await session.scalar(
            select(Organisation.id)
            .where(Organisation.id == caller.organisation_id)
            .with_for_update()
        )
        account = await _account_in_organisation(
            session, organisation_id=caller.organisation_id, account_id=account_id
        )
        changes: dict[str, object] = {}
        now = ctx.now()
        if display_name is not None and normalise(display_name) != account.display_name:
            account.display_name = normalise(display_name)
            changes["display_name"] = True
        if role is not None and role.value != account.role:
            changes["role"] = {"from": account.role, "to": role.value}
        if disabled is not None and disabled != (account.disabled_at is not None):
            changes["disabled"] = disabled
        loses_owner = account.role == Role.OWNER.value and account.disabled_at is None
        loses_owner = loses_owner and (
            (role is not None and role is not Role.OWNER) or disabled is True
        )
        if loses_owner and await _active_owners(session, caller.organisation_id) <= 1:
            raise Conflict("An organisation needs at least one active owner.")
        if role is not None:
            account.role = role.value
        if disabled is True and account.disabled_at is None:
            account.disabled_at = now
            await revoke_all_sessions(session, account_id=account.id, now=now)
        elif disabled is False:
            account.disabled_at = None
        if changes:
            account.updated_at = now
            await audit.record(
                session,
                service=SERVICE,
                actor=actor_of(caller),
                action="auth.account.update",
                target=actor_of(account),
                details={"changes": changes},
            )
        return account


async def _active_owners(session: AsyncSession, organisation_id: str) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Account)
        .where(
            Account.organisation_id == organisation_id,
            Account.role == Role.OWNER.value,
            Account.disabled_at.is_(None),
        )
    )
    return int(count or 0)


async def revoke_all_sessions(session: AsyncSession, *, account_id: str, now: object) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.account_id == account_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


@dataclass(frozen=True)
class Me:
    account: Account
    organisation: Organisation


async def me(*, ctx: AuthContext, principal: Principal) -> Me:
    async with ctx.database.session() as session:
        account = await active_account(session, principal)
        organisation = await session.get(Organisation, account.organisation_id)
        assert organisation is not None  # a foreign key guarantees it
        return Me(account, organisation)
