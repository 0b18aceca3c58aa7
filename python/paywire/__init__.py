"""paywire: a payment transmission gateway.

ISO 20022 pacs.008 over pooled, pipelined TLS, with PostgreSQL as the system of record.
"""

__version__ = "0.1.0"
