"""Alembic environment: runs migrations on the SQLite file named in the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, event

from storage.db import _pragmas
from storage.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
if url is None:
    raise RuntimeError("the alembic configuration names no sqlalchemy.url")
engine = create_engine(url)
event.listen(engine, "connect", _pragmas)

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
