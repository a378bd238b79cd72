"""Database access: the embedded cluster, connections, and the raw-schema migrations."""
