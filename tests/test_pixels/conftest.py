from ..test_apis.conftest import model_cfg  # noqa: F401  (a fixture)
