"""Analytics indexes (owned by the analytics work; placeholder until it lands)."""

from pymongo.database import Database


def up(db: Database) -> None:
    return None
