"""The LSP server and command line of vetted."""
