"""CRM: customers, screen pop (CRM-1..4, AG-4). Not built yet: room left in the design."""
