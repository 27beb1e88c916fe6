"""Input shapes that more than one app checks, defined once."""

from __future__ import annotations

import re

# The largest value an integer column holds on every database we run on (PostgreSQL's integer):
# a column limit for forms, serializers and filters, not a business rule.
MAX_DB_INT = 2**31 - 1

_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# A DNS name: dot-separated labels of letters, digits and inner hyphens, 253 characters at most.
# Single-label names (pve1) pass: internal networks use them.
HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}\Z){_DNS_LABEL}(?:\.{_DNS_LABEL})*\Z", re.IGNORECASE)
