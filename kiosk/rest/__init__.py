"""The kiosk's REST endpoints, one module per concern (see kiosk/api.py)."""
