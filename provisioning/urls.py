from django.urls import path

from . import views

app_name = "provisioning"

urlpatterns = [
    path("freeswitch/xml-curl/", views.xml_curl, name="xml-curl"),
]
