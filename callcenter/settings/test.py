"""Test settings: in-memory channel layer where a test does not need Redis."""

from . import *  # noqa: F403
from . import VAR_DIR

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SECRET_KEY = "test-only-not-secret"  # noqa: S105
DEBUG = False
TEST_VAR_DIR = VAR_DIR
