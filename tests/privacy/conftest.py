import pytest


@pytest.fixture(autouse=True)
def exports_dir(tmp_path, settings):
    """Every test writes its exports into its own folder."""
    location = tmp_path / "exports"
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    return location
