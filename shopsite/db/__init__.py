"""The database layer: the replica router, its middleware, replica health, outages, /healthz, timing."""
