"""``python -m lsp_server`` runs the command line."""

from lsp_server.cli import main

main()
