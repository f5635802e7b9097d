"""Switch control: the contract, the bus, protocol clients, drivers and the controller daemon.

Everything below ``switch_control.contract``, ``.protocols``, ``.drivers`` and ``.bus`` is
free of Django (enforced by import-linter); ``daemon``/``management`` are the composition root.
"""
