"""The voting service's application: `create_app(settings)` builds it (see DESIGN §3)."""

from __future__ import annotations

from fastapi import FastAPI

from securevote.config import Settings, load_settings
from securevote.db import Database
from securevote.webapp import create_service_app
from voting_service.api.routes import ballots, board
from voting_service.board import Board, board_key_from_settings
from voting_service.group_commit import CastQueue
from voting_service.service import ContextCache
from voting_service.verifier import BallotVerifier

NAME = "voting"
PREFIX = "/api/ballots"


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    settings = settings or load_settings()
    key = board_key_from_settings(settings)  # refuses prod without a board signing seed
    verifier = BallotVerifier(settings.verify_processes)
    app = create_service_app(
        name=NAME,
        prefix=PREFIX,
        settings=settings,
        database=database,
        routers=[ballots.router, board.router],
        title="secure-vote voting service",
        on_shutdown=[verifier.close],
    )
    app.state.board = Board(key)
    app.state.casts = CastQueue(app.state.database, app.state.board)
    app.state.contexts = ContextCache()
    app.state.verifier = verifier
    return app
