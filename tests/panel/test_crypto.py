"""Secrets at rest: Fernet round trip and key rotation through settings.FIELD_ENCRYPTION_KEYS."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from panel import crypto

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
SECRET = "8a1f3c52-9d0e-4b7a-a3c1-2f6e5d4c3b2a"


@override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY])
def test_round_trip_returns_the_plaintext_and_stores_no_trace_of_it():
    ciphertext = crypto.encrypt(SECRET)

    assert SECRET not in ciphertext
    assert crypto.decrypt(ciphertext) == SECRET


@override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY])
def test_each_encryption_is_fresh():
    # Fernet uses a random IV: equal secrets must not give equal ciphertexts.
    assert crypto.encrypt(SECRET) != crypto.encrypt(SECRET)


def test_old_ciphertext_still_decrypts_after_a_new_key_is_prepended():
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        old_ciphertext = crypto.encrypt(SECRET)

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        assert crypto.decrypt(old_ciphertext) == SECRET
        new_ciphertext = crypto.encrypt(SECRET)

    # The first key encrypts: once the old key is dropped, new ciphertext still reads, old does not.
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        assert crypto.decrypt(new_ciphertext) == SECRET
        with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
            crypto.decrypt(old_ciphertext)


def test_ciphertext_from_an_unknown_key_is_refused_clearly():
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        ciphertext = crypto.encrypt(SECRET)
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]), pytest.raises(ImproperlyConfigured):
        crypto.decrypt(ciphertext)


@override_settings(FIELD_ENCRYPTION_KEYS=[])
def test_no_key_configured_is_an_explicit_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS is empty"):
        crypto.encrypt(SECRET)
