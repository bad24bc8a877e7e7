"""The ``tenants`` collection: one workspace per tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database

from app.security.ids import new_id

COLLECTION = "tenants"
INDEXES: list[tuple[list[tuple[str, int]], dict[str, Any]]] = [
    ([("name", ASCENDING)], {"name": "name"}),
]


def create(db: Database, name: str) -> dict[str, Any]:
    doc = {"_id": new_id("ten"), "name": name, "createdAt": datetime.now(UTC).replace(tzinfo=None)}
    db[COLLECTION].insert_one(doc)
    return doc


def get(db: Database, tenant_id: str) -> dict[str, Any] | None:
    return db[COLLECTION].find_one({"_id": tenant_id})


def find_by_name(db: Database, name: str) -> dict[str, Any] | None:
    return db[COLLECTION].find_one({"name": name})
