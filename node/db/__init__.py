"""Storage: SQLAlchemy models, the engine, named queries and Alembic migrations."""
