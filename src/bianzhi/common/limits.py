"""Bounds of plain numbers that the database must hold (PostgreSQL ``integer`` is 32-bit)."""

#: the largest headcount, establishment number, cap or quantity accepted anywhere: a
#: province's whole public sector is far below it, and it fits every integer column.
MAX_COUNT = 1_000_000
