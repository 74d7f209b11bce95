"""Adapter: the server trustee's key share (demo mode only), from the election service.

The results service may not import the election service. The election service offers
``server_trustee_key_share(session, *, election_id, settings) -> KeyShare | None`` under the
``securevote.server_trustee`` entry point group (name ``key_share``); where it is installed in
the same process (all-in-one, or a results container that also installs the election
package) this adapter finds it. Where it is not, the server trustee cannot take part here and
the share is left to a process that has it; nothing else in this service depends on it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib.metadata import entry_points
from typing import Any

from securevote.config import Settings
from securevote.crypto.threshold import KeyShare
from securevote.db import Database

GROUP = "securevote.server_trustee"
KeyShareLoader = Callable[..., Awaitable[KeyShare | None]]


def key_share_loader() -> KeyShareLoader | None:
    for entry in entry_points(group=GROUP):
        if entry.name == "key_share":
            loader: Any = entry.load()
            return loader  # type: ignore[no-any-return]
    return None


async def load_key_share(
    database: Database, *, election_id: str, settings: Settings
) -> KeyShare | None:
    loader = key_share_loader()
    if loader is None:
        return None
    async with database.session() as session:
        return await loader(session, election_id=election_id, settings=settings)
