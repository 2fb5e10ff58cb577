"""The read-only HTTP API and the operator page (`cascrawl serve`); docs/api.md.

`cascrawl.api.app.create_app(database)` builds the ASGI app. This package's `records` module is
framework-free and shared with the inspection CLI.
"""
