"""The WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi …``."""

from checkout import create_app

app = create_app()
