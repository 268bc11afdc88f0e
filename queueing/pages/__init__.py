"""The queue's pages, one module per concern (see queueing/views.py)."""
