"""Drivers implementing ``CallControl``: ``asterisk`` (ARI+AMI), ``freeswitch`` (ESL), ``fake``."""
