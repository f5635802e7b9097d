"""The call center's Django project (settings, ASGI, Celery) and its core app."""

from .celery import app as celery_app

__all__ = ["celery_app"]
