"""Indexes of the core collections (tenants, keys, credentials, traces)."""

from pymongo.database import Database

from app.store import api_keys, credentials, tenants, traces


def up(db: Database) -> None:
    for module in (tenants, api_keys, credentials, traces):
        for keys, options in module.INDEXES:
            db[module.COLLECTION].create_index(keys, **options)
