from django.db import models

from panel import crypto


class EncryptedTextField(models.TextField):
    """A text column stored Fernet-encrypted; Python code sees the plaintext.

    The ciphertext never leaves the database layer, and forms must treat the field as write-only.
    """

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value)
