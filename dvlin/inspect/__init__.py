"""Schema, statistics and shape of tables and arrays."""
