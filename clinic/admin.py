"""Django admin for platform superusers: create clinics, look at memberships.

The audit trail's admin page comes from django-auditlog (read-only)."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from clinic.models import Clinic, Membership, Patient, User


@admin.register(User)
class EmailUserAdmin(UserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_active", "is_superuser"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Name", {"fields": ["first_name", "last_name"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "mfa_required"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["mrn", "last_name", "first_name", "clinic", "status"]
    list_filter = ["clinic", "status"]
    search_fields = ["mrn", "last_name"]
    exclude = ["mbi", "payer_member_id"]

    def has_delete_permission(self, request, obj=None):
        return False  # patient data is deactivated, never deleted
