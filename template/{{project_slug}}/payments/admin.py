from django.contrib import admin

from .models import LedgerEntry, Receipt, ReconciliationRun, WebhookEvent


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["external_id", "received_at"]
    search_fields = ["external_id"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ["event", "amount_cents", "currency", "customer_email", "recorded_at"]
    list_filter = ["currency"]


@admin.register(Receipt)
class ReceiptAdmin(admin.ModelAdmin):
    list_display = ["entry", "created_at", "emailed_at"]


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(admin.ModelAdmin):
    list_display = ["ran_at", "entry_count", "totals"]
