"""`anomwatch web`: server-rendered pages over the store (FastAPI + Jinja2, no JS build)."""
