"""Connect the guide to the application: the route panel any page may embed."""

from __future__ import annotations

from flask import Flask

from hospital.guide.views import route_panel


def connect(app: Flask) -> None:
    """Offer `route_panel(hospital_id, to_point, from_point, accessible, lang)` to every template."""
    app.jinja_env.globals["route_panel"] = route_panel
