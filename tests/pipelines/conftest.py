import pytest

from tests.conftest import EXAMPLE  # noqa: F401  (re-exported for the tests here)


@pytest.fixture(scope="module")
def default_pipe():
    """The real pretrained default from the local HF cache (scripts/run_tests.sh builds it); one per
    test module, so that the full model (~200 MB with its buffers) is not held for the rest of the suite."""
    import majl_hf
    from majl_hf.hub import is_cached

    if not is_cached(majl_hf.DEFAULT_MODEL):
        pytest.skip(f"{majl_hf.DEFAULT_MODEL} is not in the HF cache: run python scripts/build_default.py")
    from transformers import pipeline

    return pipeline("majl-vocal")
