"""Test doubles of the external systems the platform drives."""
