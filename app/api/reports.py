"""Placeholder blueprint; owned by the analytics engineer."""

from flask_smorest import Blueprint

blp = Blueprint("reports", __name__, description="reports")
