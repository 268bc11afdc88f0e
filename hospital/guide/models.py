"""The guide's tables: a hospital's edits to the triage lexicon, and its floor maps."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hospital.db import Model, UTCDateTime, enum_column, utcnow


class TriageEntryEdit(Model):
    """A hospital's version of one lexicon entry: replaces the shipped entry of the same key."""

    __tablename__ = "triage_entry_edit"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    key: Mapped[str] = mapped_column(sa.String(64))
    # The entry as triage.entry_from_dict reads it (kind, labels, words, pinyin, targets, active).
    body: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))


class MapFloor(Model):
    """One floor of one building, drawn at width × height metres."""

    __tablename__ = "map_floor"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "building", "floor"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    building: Mapped[str] = mapped_column(sa.String(50))
    floor: Mapped[str] = mapped_column(sa.String(10))
    name_zh: Mapped[str] = mapped_column(sa.String(100), default="")
    name_en: Mapped[str] = mapped_column(sa.String(100), default="")
    width: Mapped[int] = mapped_column(default=100)
    height: Mapped[int] = mapped_column(default=60)
    # Written afresh for all the hospital's floors whenever its map is replaced: routes keep
    # the map parsed in memory under this key (services/maps.py). "" on maps made before it.
    revision: Mapped[str] = mapped_column(
        sa.String(32), default=lambda: uuid.uuid4().hex, server_default=""
    )


class MapNodeKind(enum.StrEnum):
    CORRIDOR = "corridor"
    LIFT = "lift"
    STAIRS = "stairs"
    ENTRANCE = "entrance"
    POINT = "point"


class MapNode(Model):
    """A place on a floor: a corridor junction, a lift or stairs landing, an entrance, a room."""

    __tablename__ = "map_node"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    floor_id: Mapped[int] = mapped_column(sa.ForeignKey("map_floor.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(32))
    kind: Mapped[MapNodeKind] = enum_column(MapNodeKind)
    x: Mapped[int] = mapped_column()
    y: Mapped[int] = mapped_column()
    name_zh: Mapped[str] = mapped_column(sa.String(100), default="")
    name_en: Mapped[str] = mapped_column(sa.String(100), default="")
    service_point_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("service_point.id"), index=True
    )

    floor: Mapped[MapFloor] = relationship()


class MapEdge(Model):
    """A walkable link between two nodes; step_free is false for stairs and steps."""

    __tablename__ = "map_edge"
    __table_args__ = (
        sa.UniqueConstraint("from_node_id", "to_node_id"),
        sa.CheckConstraint("length_m > 0", name="length_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hospital_id: Mapped[int] = mapped_column(sa.ForeignKey("hospital.id"), index=True)
    from_node_id: Mapped[int] = mapped_column(sa.ForeignKey("map_node.id"), index=True)
    to_node_id: Mapped[int] = mapped_column(sa.ForeignKey("map_node.id"), index=True)
    length_m: Mapped[int] = mapped_column()
    step_free: Mapped[bool] = mapped_column(default=True)
