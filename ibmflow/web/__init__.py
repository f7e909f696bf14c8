"""The web edge: the answer-by-link pages a focal point opens from a request mail (FastAPI + Jinja2)."""
