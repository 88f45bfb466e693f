"""``python -m app`` runs the ``cjsim`` command line."""

from app.cli import main

main()
