"""Operators may look at sources and items in the admin; every change goes through the services (and the log)."""

from django.contrib import admin

from sitaware.ingest.models import IntakeItem, Source


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Source)
class SourceAdmin(ReadOnly):
    list_display = ("name", "kind", "organisation", "enabled", "last_success_at", "last_error_at", "silent_since",
                    "items_per_hour")
    list_filter = ("kind", "enabled", "organisation")
    exclude = ("config",)  # may hold secrets' hashes and broker passwords


@admin.register(IntakeItem)
class IntakeItemAdmin(ReadOnly):
    list_display = ("received_at", "source", "external_id", "title", "status")
    list_filter = ("status", "source__kind")
    # Raw payloads and personal data stay out of the admin: the API applies need to know.
    exclude = ("raw", "personal_data")
