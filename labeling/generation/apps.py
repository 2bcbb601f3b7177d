from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "labeling.generation"
