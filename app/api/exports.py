"""Placeholder blueprint; owned by the analytics engineer."""

from flask_smorest import Blueprint

blp = Blueprint("exports", __name__, description="exports")
