"""Facade kept while callers move to hospital.accounts.services; import from those modules.

Importing it imports every accounts service module, so the sign-in code template and the
one-time code session hooks are registered as before.
"""

from __future__ import annotations

from hospital.accounts.services.codes import (
    check_phone_code,
    prune_one_time_codes,
    send_phone_code,
)
from hospital.accounts.services.devices import (
    device_token_hash,
    disable_device,
    list_devices,
    register_device,
)
from hospital.accounts.services.disabling import REASON_MAX_LENGTH, disable_account, sign_out
from hospital.accounts.services.passwords import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    set_password,
)
from hospital.accounts.services.preferences import DISPLAY_NAME_MAX_LENGTH, update_preferences
from hospital.accounts.services.sign_in import (
    SIGN_IN_CODE_TEMPLATE,
    SignInDelayed,
    password_delay,
    request_sign_in_code,
    sign_in_with_code,
    sign_in_with_password,
)
from hospital.accounts.services.staff import create_staff

__all__ = [
    "DISPLAY_NAME_MAX_LENGTH",
    "PASSWORD_MAX_LENGTH",
    "PASSWORD_MIN_LENGTH",
    "REASON_MAX_LENGTH",
    "SIGN_IN_CODE_TEMPLATE",
    "SignInDelayed",
    "check_phone_code",
    "create_staff",
    "device_token_hash",
    "disable_account",
    "disable_device",
    "list_devices",
    "password_delay",
    "prune_one_time_codes",
    "register_device",
    "request_sign_in_code",
    "send_phone_code",
    "set_password",
    "sign_in_with_code",
    "sign_in_with_password",
    "sign_out",
    "update_preferences",
]
