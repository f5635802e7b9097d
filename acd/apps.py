from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AcdConfig(AppConfig):
    name = "acd"
    verbose_name = _("Agents and queues")
