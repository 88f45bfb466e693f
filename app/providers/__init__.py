"""Data providers: the shared SQL view implementation and the production database provider."""
