"""Pages (being built)."""

from flask import Blueprint

bp = Blueprint(__name__.split(".")[1] + "_pages", __name__, template_folder="templates")
