"""Work orders (WO-1..4). Not built yet."""
