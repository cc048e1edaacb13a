"""Entry point for gunicorn, flask and celery: `gunicorn wsgi:app`, `celery -A wsgi:celery_app worker`."""
from campaigns import create_app

app = create_app()
celery_app = app.extensions["celery"]
