"""The server: HTTP front door, WebSocket API, authentication."""
