"""IVR flows (IVR-1..10): Django models later; ``ivr_flows.runtime`` will be pure."""
