"""``token_calibration``: per (provider, model), provider-reported input tokens vs our o200k count.

The ratio ``reported / counted`` turns an o200k count into an estimate of a model whose tokenizer is not
public. It is trusted after ``MIN_SAMPLES`` requests and clamped to ``[0.5, 2.0]`` so one odd request
(large images, tool definitions the count cannot see) cannot swing every estimate.
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

COLLECTION = "token_calibration"
MIN_SAMPLES = 3
RATIO_BOUNDS = (0.5, 2.0)


def _key(provider: str, model: str) -> str:
    return f"{provider}/{model}"


def add_sample(db: Database, provider: str, model: str, counted: int, reported: int) -> None:
    """One request's pair; callers guard redelivery (after winning the measurement claim)."""
    if counted <= 0 or reported <= 0:
        return
    db[COLLECTION].update_one(
        {"_id": _key(provider, model)},
        {"$inc": {"counted": counted, "reported": reported, "samples": 1},
         "$setOnInsert": {"provider": provider, "model": model}},
        upsert=True,
    )


def ratio_from(doc: dict[str, Any] | None) -> float | None:
    if not doc or doc.get("samples", 0) < MIN_SAMPLES or not doc.get("counted"):
        return None
    low, high = RATIO_BOUNDS
    return min(max(doc["reported"] / doc["counted"], low), high)


def ratio(db: Database, provider: str, model: str) -> float | None:
    """The learned ratio, or None while there are too few samples (then counts are raw o200k)."""
    return ratio_from(db[COLLECTION].find_one({"_id": _key(provider, model)}))
