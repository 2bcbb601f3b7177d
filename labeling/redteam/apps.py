from django.apps import AppConfig


class RedteamConfig(AppConfig):
    name = "labeling.redteam"
    label = "redteam"
