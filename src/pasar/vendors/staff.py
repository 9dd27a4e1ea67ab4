"""Managing staff after they exist: disable, enable, delete, passwords, sessions.

Sessions are rows in the database and every request looks its session up there,
so deleting a user's session rows signs them out on every node at once.

A shop always keeps one active (not disabled) owner: the last one cannot be
disabled or deleted, by anyone, so nobody can lock the owners out of their own
shop by mistake (an operator can still reset a password with ``pasar staff``).
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.clock import utcnow
from pasar.vendors.credentials import PasswordWork
from pasar.vendors.errors import VendorError
from pasar.vendors.models import StaffSession, StaffUser
from pasar.vendors.scopes import Role
from pasar.vendors.service import check_password, get_staff


async def revoke_sessions(db: AsyncSession, user_id: str) -> int:
    """Sign the user out everywhere; how many sessions there were."""
    result = await db.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


async def _keep_an_owner(db: AsyncSession, user: StaffUser) -> None:
    """Refuse when ``user`` is the vendor's last active owner."""
    if user.role != Role.OWNER.value or user.disabled_at is not None:
        return
    # Lock the owners' rows (PostgreSQL; SQLite has one writer anyway) so two owners
    # disabling each other at once cannot both pass this check.
    owners = (
        await db.execute(
            select(StaffUser.id)
            .where(
                StaffUser.vendor_id == user.vendor_id,
                StaffUser.role == Role.OWNER.value,
                StaffUser.disabled_at.is_(None),
            )
            .with_for_update()
        )
    ).all()
    if len(owners) <= 1:
        raise VendorError(
            "conflict",
            "last_owner",
            "this is the shop's only active owner: make someone else an owner first",
        )


async def disable_staff(db: AsyncSession, vendor_id: str, user_id: str) -> StaffUser:
    user = await get_staff(db, vendor_id, user_id)
    if user.disabled_at is None:
        await _keep_an_owner(db, user)
        user.disabled_at = utcnow()
    await revoke_sessions(db, user.id)
    await db.flush()
    return user


async def enable_staff(db: AsyncSession, vendor_id: str, user_id: str) -> StaffUser:
    user = await get_staff(db, vendor_id, user_id)
    user.disabled_at = None
    await db.flush()
    return user


async def delete_staff(db: AsyncSession, vendor_id: str, user_id: str) -> None:
    user = await get_staff(db, vendor_id, user_id)
    await _keep_an_owner(db, user)
    await revoke_sessions(db, user.id)
    await db.delete(user)  # shows they host keep going, with no host (SET NULL)
    await db.flush()


async def reset_password(
    db: AsyncSession, passwords: PasswordWork, vendor_id: str, user_id: str, new: str
) -> StaffUser:
    """Someone else (an owner, an operator) sets the password: every session ends."""
    check_password(new)
    await db.commit()  # no transaction (SQLite: no write lock) held through argon2
    digest = await passwords.hash(new)
    user = await get_staff(db, vendor_id, user_id)
    user.password_hash = digest
    await revoke_sessions(db, user.id)
    await db.flush()
    return user


async def change_own_password(
    db: AsyncSession, passwords: PasswordWork, user: StaffUser, current: str, new: str
) -> None:
    """The user changes their own password, proving the current one. Every session
    ends, the caller's too (the caller gets a new one): a stolen session cookie
    dies with the old password."""
    check_password(new)
    await db.commit()  # no transaction (SQLite: no write lock) held through argon2
    if not await passwords.verify(user.password_hash, current):
        raise VendorError("invalid", "wrong_password", "the current password is not right")
    user.password_hash = await passwords.hash(new)
    await revoke_sessions(db, user.id)
    await db.flush()


async def count_sessions(db: AsyncSession, user_id: str) -> int:
    query = select(func.count()).select_from(StaffSession).where(StaffSession.user_id == user_id)
    return int((await db.execute(query)).scalar_one())
