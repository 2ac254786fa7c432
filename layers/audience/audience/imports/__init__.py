"""Imports: turning files people upload (CSV, spreadsheets, Parquet) into contacts and memberships.

Pure parts (readers, column mapping, coercion, identity normalisation, row validation, the reject
report) know nothing of AWS; ``use_case`` wires them to storage and S3.
"""
