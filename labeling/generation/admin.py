from django.contrib import admin

from .models import GenerationJob, GenerationUnit, ModelEndpoint


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "project", "base_url", "model", "max_concurrency"]
    list_filter = ["kind"]
    search_fields = ["name", "model", "base_url"]


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "status", "units_total", "items_created", "created_at"]
    list_filter = ["status"]
    readonly_fields = ["units_total", "items_created", "started_at", "finished_at"]


@admin.register(GenerationUnit)
class GenerationUnitAdmin(admin.ModelAdmin):
    list_display = ["id", "job", "endpoint", "status", "attempts", "error_status", "error"]
    list_filter = ["status"]
    raw_id_fields = ["job", "prompt", "candidate"]
    readonly_fields = ["key", "params"]
