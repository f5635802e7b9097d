"""Knowledge base (KB-1..3). Not built yet."""
