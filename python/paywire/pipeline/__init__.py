"""The processing pipeline: workers that claim payments from the database and drive them on.

APPROVED → screened → posted with its message stored → transmitted → settled by the answer.
"""
