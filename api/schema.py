"""The executable schema: SDL from ``api/schema/*.graphql`` bound to the resolvers."""

from __future__ import annotations

from pathlib import Path

from ariadne import load_schema_from_path, make_executable_schema
from graphql import GraphQLSchema

from api import hold
from api.resolvers import (
    accounts,
    best_available,
    bookings,
    catalog,
    checkouts,
    lifecycle,
    organizer,
    queue,
    reports,
    subscriptions,
    tickets,
)
from api.resolvers.scalars import datetime_scalar, decimal_scalar

SCHEMA_DIR = Path(__file__).parent / "schema"


def build_schema() -> GraphQLSchema:
    return make_executable_schema(
        load_schema_from_path(SCHEMA_DIR),
        decimal_scalar,
        datetime_scalar,
        *catalog.BINDABLES,
        *accounts.BINDABLES,
        *hold.BINDABLES,
        *checkouts.BINDABLES,
        *bookings.BINDABLES,
        *subscriptions.BINDABLES,
        *organizer.BINDABLES,
        *lifecycle.BINDABLES,
        *reports.BINDABLES,
        *queue.BINDABLES,
        *tickets.BINDABLES,
        *best_available.BINDABLES,
        convert_names_case=True,
    )
