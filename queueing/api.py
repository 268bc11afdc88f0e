"""REST and event-stream endpoints of the virtual queue (/api/v1/queueing).

Staff act on counters; a ticket is reached by its opaque token (the QR's link); boards are
public and show masked data only. Streams send a full snapshot on (re)connect, then on every
queue event, with a heartbeat between; GET endpoints return the same payloads for polling.

One module per concern; the routes register on `blp` as each module is imported, in this order
(the order of the OpenAPI document's paths). Nothing else imports a route module, or the order
would follow whoever imported first.
"""

from queueing.rest import tickets  # noqa: F401  # isort: skip
from queueing.rest import counter_routes  # noqa: F401  # isort: skip
from queueing.rest import boards  # noqa: F401  # isort: skip
from queueing.rest import streams  # noqa: F401  # isort: skip
from queueing.rest import surveys  # noqa: F401  # isort: skip
from queueing.rest.common import blp

__all__ = ["blp"]
