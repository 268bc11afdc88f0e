"""The queue's REST and event-stream endpoints, one module per concern (see queueing/api.py)."""
