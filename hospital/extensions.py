"""Flask extensions, created unbound and initialised in create_app."""

from __future__ import annotations

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_wtf import CSRFProtect


def client_address() -> str:
    return request.remote_addr or "unknown"


babel = Babel()
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
api = Api()
limiter = Limiter(key_func=client_address, default_limits=[])
