"""The web dashboard and REST API (FastAPI, Jinja2, htmx) over the inventory; see docs/web.md."""
