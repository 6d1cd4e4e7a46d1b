"""`craftkit spec diff`: which changes between two versions of a contract break its clients.

load.py reads the documents (every import from api/ is there), operations.py pairs operations
and decides each change, schemas.py compares two schemas as sets of values (reasoning, then a
search, generate.py), report.py writes the verdicts as text, markdown, JSON or JUnit XML.
"""
