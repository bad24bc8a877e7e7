"""Placeholder blueprint; owned by the analytics engineer."""

from flask_smorest import Blueprint

blp = Blueprint("analytics", __name__, description="analytics")
