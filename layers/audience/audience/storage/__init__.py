"""Storage: pynamodb models of the three tables and one data-access module per entity.

Every function takes the tenant first and builds keys from it; every access is a GetItem, a Query or
a conditional write, never a Scan. Modules hand out pydantic records (``records``), never pynamodb
items, and raise ``audience.errors`` for anything a caller caused.
"""
