"""Analytics indexes: rollup buckets by tenant and day, dirty buckets, templates, prefix-repeat lookups."""

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from app.store import rollups, templates
from app.store import traces as trace_store


def up(db: Database) -> None:
    for keys, options in rollups.INDEXES:
        db[rollups.COLLECTION].create_index(keys, **options)
    for keys, options in templates.INDEXES:
        db[templates.COLLECTION].create_index(keys, **options)
    db[trace_store.COLLECTION].create_index(
        [("tenantId", ASCENDING), ("waste.prefixHash", ASCENDING), ("createdAt", DESCENDING)],
        name="tenant_prefix", sparse=True)
