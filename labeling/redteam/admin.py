from django.contrib import admin

from .models import Attack, AttemptJudgment, Promotion, RedTeamExport


@admin.register(Attack)
class AttackAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "author", "category", "tactic", "created_at"]
    list_filter = ["category"]
    raw_id_fields = ["prompt", "author"]


@admin.register(AttemptJudgment)
class AttemptJudgmentAdmin(admin.ModelAdmin):
    list_display = ["id", "attack", "candidate", "success", "severity", "updated_at"]
    list_filter = ["success", "severity"]
    raw_id_fields = ["attack", "candidate", "judge"]


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    list_display = ["id", "attack", "target", "item", "created_at"]
    raw_id_fields = ["attack", "prompt", "harmful", "safe", "item"]


@admin.register(RedTeamExport)
class RedTeamExportAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "version", "file_type", "created_by", "created_at"]
    readonly_fields = ["folder", "files", "counts"]
