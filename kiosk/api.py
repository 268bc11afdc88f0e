"""The kiosk API (/api/v1/kiosk): kiosk devices act for patients at the hall; staff manage them.

Every patient call carries its own proof (a scanned appointment code, an identity number, or a
short-lived confirmation of a texted code): the kiosk keeps no one signed in.

One module per concern in kiosk/rest/; the routes register on `blp` as each module is imported,
in this order (the order of the OpenAPI document's paths). Nothing else imports a route module, or the order
would follow whoever imported first.
"""

from kiosk.rest import hall  # noqa: F401  # isort: skip
from kiosk.rest import staff  # noqa: F401  # isort: skip
from kiosk.rest.common import blp

__all__ = ["blp"]
