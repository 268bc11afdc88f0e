"""Scheduling: clinician schedules, bookable slots, appointments."""
