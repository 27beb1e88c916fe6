import pytest

pytest_plugins = [
    "tests.fixtures.simulator",
    "tests.fixtures.worker",
    "tests.fixtures.data",
]


@pytest.fixture
def customer(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", "alice-pass-123")


@pytest.fixture
def other_customer(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "bob-pass-123")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        "staff", "staff@example.com", "staff-pass-123", is_staff=True, is_superuser=True
    )
