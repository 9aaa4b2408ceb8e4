"""The GraphQL API: FastAPI + Ariadne, schema-first (SDL in ``api/schema/``)."""
