from django.apps import AppConfig


class SwitchControlConfig(AppConfig):
    name = "switch_control"
    verbose_name = "Switch control"
