"""settings.LOGGING: one console handler whose lines carry the context of
healix/observability/logcontext.py
(traceId, orgId, event ids), as JSON or readable text (docs/logging.md). Kept apart from the
settings module, which it would otherwise grow past a readable size."""

__all__ = ["LOG_FORMATS", "logging_config"]

LOG_FORMATS = ("json", "text")


def logging_config(log_format: str, level: str) -> dict:
    """Django's LOGGING for `log_format` (one of LOG_FORMATS) at `level`."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "healix.observability.logcontext.ContextFilter"}},
        "formatters": {
            "json": {"()": "healix.observability.logcontext.json_formatter"},
            "text": {"()": "healix.observability.logcontext.text_formatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        # Django's own console handler (DEBUG only) would print each of its lines a second time.
        "loggers": {"django": {"handlers": [], "propagate": True}},
    }
