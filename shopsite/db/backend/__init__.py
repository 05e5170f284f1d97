"""Django's PostgreSQL backend, with test databases dropped by force (the test settings use it).

Behind PgBouncer, the pooler keeps idle server connections to the test database after the tests
end, and PostgreSQL refuses to drop a database anyone is connected to. ``DROP DATABASE ... WITH
(FORCE)`` (PostgreSQL 13) ends those connections first; the pooler opens new ones when asked.
"""
