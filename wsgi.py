"""WSGI entry point for any server: `gunicorn wsgi:app`."""

from hospital.app import create_app

app = create_app()
