"""The operations store's metadata, shared by the modules that declare its tables."""

from sqlalchemy import MetaData

__all__ = ["ops_metadata"]

ops_metadata = MetaData()
"""Every ``ops_`` table (:mod:`app.storage.ops`, :mod:`app.storage.ops_loop`)."""
