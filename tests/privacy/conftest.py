# The same per-test export folder as the dataset tests (an autouse fixture, imported).
from tests.datasets.conftest import exports_dir  # noqa: F401
