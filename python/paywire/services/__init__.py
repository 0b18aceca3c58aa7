"""Operations the API and the pipeline call: each state change is one transaction with its
status history and audit rows, safe under concurrency through row locks.
"""
