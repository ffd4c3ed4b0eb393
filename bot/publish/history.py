"""Every publish and rollback, with the figures the gate compared.

`relais publish --list`, `relais rollback --list` and the console's editors'
page read it; the publish gate reads the live model's training fingerprint
from it to know whether anything needs training.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Column, Integer, String, Text, select
from sqlalchemy.orm import Session

from bot.db import Base, UTCDateTime, utcnow

PUBLISH = "publish"
ROLLBACK = "rollback"
# Outcomes.
PUBLISHED = "published"  # the model is live (or will be at Rasa's next start)
UNCHANGED = "unchanged"  # nothing the model learns from changed: no training
REFUSED = "refused"  # lint failed or the gate found the new model worse
FAILED = "failed"  # training failed or Rasa could not load the model


class ModelPublish(Base):
    __tablename__ = "model_publish"

    id = Column(Integer, primary_key=True)
    action = Column(String(20), nullable=False)
    outcome = Column(String(20), nullable=False)
    author = Column(String(100), nullable=False)
    started_at = Column(UTCDateTime, nullable=False, default=utcnow)
    finished_at = Column(UTCDateTime, nullable=False, default=utcnow)
    # The archive under models/published/ (None when no model was kept).
    model_file = Column(String(200))
    model_id = Column(String(64))  # Rasa's id for the trained model
    fingerprint = Column(String(64))  # bot.publish.fingerprint
    trained = Column(Boolean, nullable=False, default=False)
    train_seconds = Column(Integer)
    figures = Column(JSON)  # compare.Figures of this model
    live_model_id = Column(String(64))  # the model it was compared with
    live_figures = Column(JSON)
    detail = Column(Text, nullable=False, default="")  # what happened, in words


def record(*, session: Session, **fields: Any) -> ModelPublish:
    row = ModelPublish(**fields)
    session.add(row)
    session.flush()
    return row


def recent(*, session: Session, limit: int = 20) -> list[ModelPublish]:
    """The last publishes and rollbacks, newest first."""
    return list(
        session.execute(
            select(ModelPublish).order_by(ModelPublish.id.desc()).limit(limit)
        ).scalars()
    )


def published_models(*, session: Session) -> list[ModelPublish]:
    """Publishes that made a model live, newest first (rollbacks excluded)."""
    return list(
        session.execute(
            select(ModelPublish)
            .where(ModelPublish.action == PUBLISH, ModelPublish.outcome == PUBLISHED)
            .order_by(ModelPublish.id.desc())
        ).scalars()
    )


def by_model_id(*, session: Session, model_id: str) -> ModelPublish | None:
    """The publish that made `model_id` live, if it went through relais publish."""
    return session.execute(
        select(ModelPublish)
        .where(
            ModelPublish.action == PUBLISH,
            ModelPublish.outcome == PUBLISHED,
            ModelPublish.model_id == model_id,
        )
        .order_by(ModelPublish.id.desc())
        .limit(1)
    ).scalar_one_or_none()
