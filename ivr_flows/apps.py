from django.apps import AppConfig


class IvrFlowsConfig(AppConfig):
    name = "ivr_flows"
