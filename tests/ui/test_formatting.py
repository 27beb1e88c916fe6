from datetime import timedelta

import pytest

from panel.templatetags.panel_ui import duration, gib, mib, tail


@pytest.mark.parametrize(
    ("value", "text"),
    [(512, "512 MiB"), (1024, "1 GiB"), (1536, "1.5 GiB"), (4096, "4 GiB"), (None, "")],
)
def test_mib(value, text):
    assert mib(value) == text


@pytest.mark.parametrize(("value", "text"), [(40, "40 GiB"), (1024, "1 TiB"), (1500, "1500 GiB")])
def test_gib(value, text):
    assert gib(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=42), "42 s"),
        (timedelta(seconds=185), "3 min 5 s"),
        (timedelta(hours=1, minutes=2, seconds=3), "1 h 2 min"),
        (-3, "0 s"),
    ],
)
def test_duration(value, text):
    assert duration(value) == text


def test_tail_keeps_the_last_lines():
    assert tail("a\nb\nc\nd\n", 2) == "c\nd"
    assert tail("", 5) == ""
