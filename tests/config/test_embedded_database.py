"""The embedded default (`make run`: SQLite, a web process and a worker writing at once) is set up
for concurrency exactly as the tests are, so two jobs at once never meet `database is locked`."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    journal = cursor.fetchone()[0]
    cursor.execute("PRAGMA busy_timeout")
    busy_ms = cursor.fetchone()[0]
print(json.dumps({"journal": journal, "busy_ms": busy_ms,
                  "mode": connection.transaction_mode}))
"""


def _probe(settings_module: str, database_file: Path) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": f"sqlite:///{database_file}",
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_local_sqlite_uses_wal_a_busy_timeout_and_immediate_transactions(tmp_path):
    seen = _probe("config.settings.local", tmp_path / "panel.sqlite3")

    assert seen == {"journal": "wal", "busy_ms": 30000, "mode": "IMMEDIATE"}


def test_tests_use_the_same_sqlite_setup_as_make_run(tmp_path):
    assert _probe("config.settings.test", tmp_path / "t.sqlite3") == _probe(
        "config.settings.local", tmp_path / "l.sqlite3"
    )
