from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from callcenter.core import views

admin.site.site_header = "呼叫中心管理 / Call center admin"
admin.site.site_title = "Call center"

urlpatterns = [
    path("", RedirectView.as_view(url="/status/", permanent=False)),
    path("status/", views.status_page, name="status"),
    path("status.json", views.status_json, name="status-json"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("provisioning/", include("provisioning.urls")),
]
