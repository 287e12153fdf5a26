"""anomwatch's own database: schema, connection, and the queries the pipeline needs."""
