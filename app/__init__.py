"""KillToken: the Flask application package. ``create_app`` lives in ``app/factory.py``.

Importing the package imports nothing else, so ``providers`` and ``app.errors`` can be imported on their own
(the factory pulls in the pipeline, which pulls in the providers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> Flask:
    """Build the gateway app (no I/O; handles connect lazily in each worker)."""
    from app.factory import create_app as build

    return build(overrides, environ)
