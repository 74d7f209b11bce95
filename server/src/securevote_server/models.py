"""Every table of the one database, for Alembic's autogenerate and the model/migration check.

Each service declares only the tables it owns (in its ``models`` module); this composition
root is the one place that knows them all.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from securevote.db import Base

MODEL_MODULES = (
    "securevote.audit",
    "auth_service.models",
    "election_service.models",
    "voting_service.models",
    "results_service.models",
)


def all_models() -> MetaData:
    """Import every models module that exists and return the shared metadata."""
    for module in MODEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a models module that exists but fails to import
                raise
    return Base.metadata
