import pytest

from tests.outcomes.helpers import ensure_reference_data


@pytest.fixture(autouse=True)
def _reference_data(db):
    ensure_reference_data()
