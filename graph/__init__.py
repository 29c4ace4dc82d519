"""The router: composition, planning, execution and the ASGI app. Imports nothing else of ours."""
