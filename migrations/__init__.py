"""Numbered, idempotent MongoDB steps (indexes, backfills), run by the release process.

``run(db)`` applies every step not yet recorded in the ``migrations`` collection, in order. Each step is
idempotent too (create_index is), so a crash between a step and its record is harmless.
"""

from __future__ import annotations

import importlib
import logging
from datetime import UTC, datetime

from pymongo.database import Database

log = logging.getLogger("killtoken.migrations")

STEPS = ("0001_core_indexes", "0002_analytics_indexes")


def run(db: Database) -> list[str]:
    applied = []
    done = {doc["_id"] for doc in db["migrations"].find({}, {"_id": 1})}
    for name in STEPS:
        if name in done:
            continue
        importlib.import_module(f"migrations.{name}").up(db)
        db["migrations"].update_one({"_id": name}, {"$set": {"appliedAt": datetime.now(UTC).replace(tzinfo=None)}},
                                    upsert=True)
        log.info("migration %s applied", name)
        applied.append(name)
    return applied
