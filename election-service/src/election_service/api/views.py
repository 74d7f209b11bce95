"""Database rows → response models."""

from __future__ import annotations

from election_service.models import Election, Voter
from election_service.schemas import (
    ElectionOut,
    ElectionSettings,
    ElectionSummary,
    OptionOut,
    QuestionOut,
    VoterOut,
    local_iso,
)


def election_out(election: Election, *, voter_count: int) -> ElectionOut:
    return ElectionOut(
        id=election.id,
        organisation_id=election.organisation_id,
        title=election.title,
        description=election.description,
        time_zone=election.time_zone,
        opens_at=election.opens_at,
        closes_at=election.closes_at,
        opens_at_local=local_iso(election.opens_at, election.time_zone),
        closes_at_local=local_iso(election.closes_at, election.time_zone),
        settings=ElectionSettings(
            allow_revoting=election.allow_revoting,
            second_factor=election.second_factor,
        ),
        state=election.state,
        trustee_count=election.trustee_count,
        threshold=election.threshold,
        joint_public_key=election.joint_public_key.hex() if election.joint_public_key else None,
        server_trustee=election.server_trustee,
        election_hash=election.election_hash,
        voter_count=voter_count,
        questions=[
            QuestionOut(
                id=question.id,
                position=question.position,
                title=question.title,
                description=question.description,
                kind=question.kind,
                min_selections=question.min_selections,
                max_selections=question.max_selections,
                options=[
                    OptionOut(
                        id=option.id,
                        position=option.position,
                        title=option.title,
                        description=option.description,
                    )
                    for option in question.options
                ],
            )
            for question in election.questions
        ],
        created_at=election.created_at,
        updated_at=election.updated_at,
        frozen_at=election.frozen_at,
        opened_at=election.opened_at,
        closed_at=election.closed_at,
        tallied_at=election.tallied_at,
        published_at=election.published_at,
    )


def election_summary(election: Election) -> ElectionSummary:
    return ElectionSummary(
        id=election.id,
        title=election.title,
        state=election.state,
        time_zone=election.time_zone,
        opens_at=election.opens_at,
        closes_at=election.closes_at,
        created_at=election.created_at,
    )


def voter_out(voter: Voter) -> VoterOut:
    return VoterOut(
        id=voter.id,
        email=voter.email,
        name=voter.name,
        external_id=voter.external_id,
        has_roll_secret=voter.secret_digest is not None,
    )
