from tests.api.conftest import (  # noqa: F401
    no_pve_calls,
    server_a,
    server_b,
)
from tests.browser.conftest import browser, page, screenshot  # noqa: F401
