"""gunicorn target: ``gunicorn -c gunicorn.conf.py wsgi:app``. create_app does no I/O."""

from app import create_app

app = create_app()
