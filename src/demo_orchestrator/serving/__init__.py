"""HTTP plumbing shared by the API and the web pages (dependencies, problem+json, event streams),
so that neither entry point imports the other; `app.py` composes both."""
