"""Settings, read from the environment (see README "Configuration").

Defaults suit a Chinese site: Asia/Shanghai with USE_TZ, zh-Hans first, phone numbers
parsed with region CN; every one of them is configurable.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("CALLCENTER_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    return env(name, "1" if default else "0").lower() in ("1", "true", "yes", "on")


def _secret_key() -> str:
    key = env("DJANGO_SECRET_KEY")
    if key:
        return key
    # Development convenience: a random key kept in var/ (never committed).
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = [h for h in env("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env("DJANGO_CSRF_TRUSTED_ORIGINS").split(",") if o]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_celery_beat",
    "callcenter.core",
    "acd",
    "reports",
    "crm",
    "workorders",
    "knowledge",
    "ivr_flows",
    "switch_control",
    "provisioning",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "callcenter.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
ASGI_APPLICATION = "callcenter.asgi.application"
WSGI_APPLICATION = "callcenter.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # several processes (web, controller's projector, worker) write: wait, don't fail
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    # WAL: readers (web) never block the projector's writes; NORMAL sync is durable
    # across a process crash, and a commit no longer costs an fsync
    DATABASES["default"]["OPTIONS"]["init_command"] = (
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = env("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True
PHONE_REGION = env("PHONE_REGION", "CN")

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []

REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}
CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- the switch and the controller -------------------------------------------------
SWITCH_KIND = env("SWITCH_KIND", "asterisk")  # asterisk | freeswitch | fake
CONTROLLER_NAME = env("CONTROLLER_NAME", "controller-1")
# how long the projector remembers the ids of events it projected (redelivery guard)
PROJECTOR_DEDUP_DAYS = int(env("PROJECTOR_DEDUP_DAYS", "7"))
# the controller publishes events in batches: how long a batch may gather (ms)
PUBLISH_LINGER_MS = float(env("PUBLISH_LINGER_MS", "25"))
# the projector lowers its own CPU priority by this much (os.nice): CDRs are background
# work, the switch and the controller answer calls (0 keeps the default priority)
PROJECTOR_NICE = int(env("PROJECTOR_NICE", "10"))
# the projector reads events in batches: how long one may gather (ms); CDRs trail calls
# by up to this much, and fewer, larger batches cost less per call
PROJECTOR_LINGER_MS = float(env("PROJECTOR_LINGER_MS", "1000"))
# the most events one projector batch (one DB transaction) takes: at 110 calls/s a
# second's worth is ~1300; capped at 500, calls straddled batches (0.67 -> 0.53 ms/call)
PROJECTOR_BATCH = int(env("PROJECTOR_BATCH", "2000"))
ARI_URL = env("ARI_URL", "http://127.0.0.1:8088/ari")
ARI_USER = env("ARI_USER", "callcenter")
ARI_PASSWORD = env("ARI_PASSWORD")
ARI_APP = env("ARI_APP", "callcenter")
# REST connections to ARI kept open at once: some requests (addChannel, answer) wait for
# the channel, so too few queue every call behind them; keep it below http.conf's
# sessionlimit (100 by default, 1000 in asterisk_conf/)
# REST connections to ARI at once. ``addChannel`` of a caller who is still hearing the
# welcome prompt holds its connection until the prompt ends (~0.45 s): at 150 calls/s
# that is ~70 connections, and with 64 every call queued (p99 answer > 500 ms). Keep it
# below ``sessionlimit`` in Asterisk's http.conf (ours: 1000; Asterisk's default: 100).
ARI_MAX_CONNECTIONS = int(env("ARI_MAX_CONNECTIONS", "256"))
AMI_HOST = env("AMI_HOST", "127.0.0.1")
AMI_PORT = int(env("AMI_PORT", "5038"))
AMI_USER = env("AMI_USER", "callcenter")
AMI_PASSWORD = env("AMI_PASSWORD")
ESL_HOST = env("ESL_HOST", "127.0.0.1")
ESL_PORT = int(env("ESL_PORT", "8021"))
ESL_PASSWORD = env("ESL_PASSWORD")
# FreeSWITCH driver: where the switch writes recordings (read back by the controller on the
# same host), its sounds (empty: FreeSWITCH's sound prefix), the trunk gateway, say language
FS_RECORDINGS_DIR = env("FS_RECORDINGS_DIR", "/var/lib/freeswitch/recordings")
FS_SOUNDS_DIR = env("FS_SOUNDS_DIR", "")
FS_GATEWAY = env("FS_GATEWAY", "carrier")
FS_SAY_LANGUAGE = env("FS_SAY_LANGUAGE", "en")
# FreeSWITCH mod_xml_curl -> provisioning view (HTTP Basic); no password: every lookup refused
XML_CURL_USER = env("XML_CURL_USER", "freeswitch")
XML_CURL_PASSWORD = env("XML_CURL_PASSWORD")
# what the controller does with an inbound call until IVR flows and queues exist:
# answer, play the welcome prompt, ring these extensions in turn (comma separated)
DEFAULT_AGENT_EXTENSIONS = [x for x in env("DEFAULT_AGENT_EXTENSIONS", "").split(",") if x]
WELCOME_PROMPT = env("WELCOME_PROMPT", "sound:hello-world")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "aiohttp.access": {"level": "WARNING"},
    },
}
