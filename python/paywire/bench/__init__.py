"""`paywire bench`: end-to-end load on a real database, a real TLS pool and a receiver process.

Three modes measured the same way: e2e (the whole pipeline), db (the network replaced by
immediate answers) and transport (messages through the pool only).
"""
