"""The tamper-evident audit log: hash-chained entries, verification, reports."""
