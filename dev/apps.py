from django.apps import AppConfig


class DevConfig(AppConfig):
    """Development tooling: installed for its commands (load_demo, demo_webhook_receiver)."""

    name = "dev"
    verbose_name = "Development"
