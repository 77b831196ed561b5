"""Django settings, read from the environment. The defaults give the embedded single-box installation."""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from sitaware.env import env_bool, env_int, env_list, env_str, persistent_secret

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env_str("SITAWARE_DATA_DIR", str(Path.cwd() / "var"))).resolve()

DEBUG = env_bool("SITAWARE_DEBUG", False)
SECRET_KEY = env_str("SITAWARE_SECRET_KEY") or persistent_secret(DATA_DIR / "secret_key")
ALLOWED_HOSTS = env_list("SITAWARE_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("SITAWARE_CSRF_TRUSTED_ORIGINS", [])

# The site this installation is: records and change-log entries written here carry it, so that
# field posts and HQ can later sync without colliding.
SITAWARE_SITE_CODE = env_str("SITAWARE_SITE_CODE", "hq")
SITAWARE_SITE_NAME = env_str("SITAWARE_SITE_NAME", "Mission headquarters")
# Extra folders of taxonomy files (JSON) a mission supplies beside the shipped ones.
SITAWARE_TAXONOMY_DIRS = env_list("SITAWARE_TAXONOMY_DIRS", [])
SITAWARE_DEFAULT_TAXONOMY = env_str("SITAWARE_DEFAULT_TAXONOMY", "sitaware-default@1.0")
SITAWARE_H3_RESOLUTION = env_int("SITAWARE_H3_RESOLUTION", 9)
SITAWARE_NARRATIVE_MAX_CHARS = env_int("SITAWARE_NARRATIVE_MAX_CHARS", 20_000)
SITAWARE_UPLOAD_MAX_BYTES = env_int("SITAWARE_UPLOAD_MAX_BYTES", 200 * 1024 * 1024)
# The mission's own basemap for the map pages: a .geojson, .mbtiles or .pmtiles file on this machine (docs/web.md,
# "Mission basemap"); empty: the country boundaries shipped in the package. A file that cannot be used fails the check.
SITAWARE_BASEMAP = env_str("SITAWARE_BASEMAP", "")
# Sign-in throttling: this many failures for one account (or, a higher bar, from one address) within the lock
# period refuse further attempts until the period has passed.
SITAWARE_LOGIN_MAX_FAILURES = env_int("SITAWARE_LOGIN_MAX_FAILURES", 5)
SITAWARE_LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("SITAWARE_LOGIN_MAX_FAILURES_PER_ADDRESS", 30)
SITAWARE_LOGIN_LOCK_SECONDS = env_int("SITAWARE_LOGIN_LOCK_SECONDS", 900)
# Run a task worker inside `sitaware serve` (the embedded default); turn off when workers run apart.
SITAWARE_INPROCESS_WORKER = env_bool("SITAWARE_INPROCESS_WORKER", True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "ninja",
    "sitaware.core",
    "sitaware.records",
    "sitaware.oversight",
    "sitaware.api",
    "sitaware.web",
    "sitaware.assessment",
    "sitaware.ingest",
    "sitaware.analytics",
    "sitaware.alerts",
    "sitaware.triage",
    "sitaware.planning",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "sitaware.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "sitaware.urls"
WSGI_APPLICATION = "sitaware.wsgi.application"
ASGI_APPLICATION = "sitaware.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database_config() -> dict:
    url = env_str("DATABASE_URL") or env_str("SITAWARE_DATABASE_URL")
    if url:
        # 0: one connection per request, closed at its end. Under ASGI (uvicorn) Django runs each request's sync
        # code in its own thread, so kept connections pile up one per thread until PostgreSQL refuses more
        # ("too many clients", seen under the API benchmark). A connection pool is the better cure, to come.
        config = dj_database_url.parse(url, conn_max_age=env_int("SITAWARE_CONN_MAX_AGE", 0))
        if config["ENGINE"] != "django.db.backends.sqlite3":
            return config
        name = config["NAME"]
    else:
        name = str(DATA_DIR / "sitaware.sqlite3")
    Path(name).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets readers run while one writer writes; IMMEDIATE takes the write lock at BEGIN so two
    # writers queue on busy_timeout instead of failing with "database is locked" mid-transaction.
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": name,
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA busy_timeout=30000;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA cache_size=-65536;"
                "PRAGMA temp_store=MEMORY;"
            ),
        },
        "TEST": {"NAME": str(DATA_DIR / "test.sqlite3")},
    }


DATABASES = {"default": _database_config()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# WhiteNoise warns on every request when the folder is missing, before `collectstatic` has run once.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
SESSION_COOKIE_AGE = env_int("SITAWARE_SESSION_SECONDS", 8 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SITAWARE_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("SITAWARE_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
