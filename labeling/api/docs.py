"""Swagger UI from drf-spectacular-sidecar's static files, its init script as a separate URL
(the split view), and a template without the inline <style> the CSP would refuse."""

from drf_spectacular.views import SpectacularSwaggerSplitView


class SwaggerDocs(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"
