from django.contrib import admin

from .models import (
    CandidateScreening,
    GenerationJob,
    GenerationUnit,
    ModelEndpoint,
    ModerationEndpoint,
)


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


@admin.register(ModerationEndpoint)
class ModerationEndpointAdmin(admin.ModelAdmin):
    list_display = ["project", "base_url", "model", "threshold", "screen_generated"]
    raw_id_fields = ["project", "route_to_queue"]


@admin.register(CandidateScreening)
class CandidateScreeningAdmin(admin.ModelAdmin):
    list_display = ["id", "candidate", "status", "flagged", "categories", "model", "screened_at"]
    list_filter = ["status", "flagged"]
    raw_id_fields = ["candidate"]
    readonly_fields = ["scores", "categories", "server_flagged", "threshold"]
