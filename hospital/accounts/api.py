"""REST endpoints (being built)."""

from flask_smorest import Blueprint

blp = Blueprint(__name__.split(".")[1], __name__)
