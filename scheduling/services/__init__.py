"""Schedules, slots and appointments: the only writers of the scheduling tables.

Functions flush, never commit. When one raises, the caller's unit of work must roll back (the
request edge and `unit_of_work()` do), which also undoes a place already taken in that call.
"""
