"""Websocket routes (agent console, wallboard) — filled by the console/wallboard apps."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
