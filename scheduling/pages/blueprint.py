"""The `scheduling_pages` blueprint that every module of `scheduling.pages` adds its pages to."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.wrappers import Response as WerkzeugResponse

# Named after the package so its templates/ folder is the blueprint's.
bp = Blueprint("scheduling_pages", "scheduling", template_folder="templates")

Page = str | tuple[str, int] | WerkzeugResponse
