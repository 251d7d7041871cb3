"""One module per LSP method; each exposes `register(server)`."""
