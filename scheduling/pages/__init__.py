"""Scheduling's pages, one group a module, all on the `scheduling_pages` blueprint."""
