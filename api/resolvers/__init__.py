"""Resolvers, one module per area of the schema; ``BINDABLES`` lists every type binding."""
