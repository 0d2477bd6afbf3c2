"""The live dashboard served by ``wdp serve`` at ``/``: plain static files (HTML, CSS and
ES modules, no build step) that use only the documented WebSocket API and REST, like any
other client. ``wdp.server.static`` serves them."""
