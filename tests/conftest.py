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


@pytest.fixture(scope="session", autouse=True)
def _test_database_released(django_db_setup, django_db_blocker):
    """Close leftover sessions on the test database before it is dropped (PostgreSQL refuses to
    drop a database in use, and it would be left behind). The database is this run's own
    (its name carries our pid), so any session still on it at the end is a leftover, such as a
    live-server request thread's connection."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
