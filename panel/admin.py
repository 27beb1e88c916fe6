from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from panel.models import User

# --- Users ------------------------------------------------------------------------------------
# Customers and staff are one model; `is_staff` separates them.


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active")


# --- end of users -----------------------------------------------------------------------------
