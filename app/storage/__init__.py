"""Storage: the schema, its migrations, bulk loading, imports, the primitive SQL queries and the
materialised summaries and customer facts, plus the writable operations store.

Everything here sits below the views: it knows tables and rows, never view models or tools.
"""
