from django.apps import AppConfig


class RedteamConfig(AppConfig):
    name = "labeling.redteam"
    label = "redteam"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the erasure receiver
