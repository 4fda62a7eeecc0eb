"""The tracker function: the observations table's stream in, people (tracks) out.

``handler.py`` unwraps the DynamoDB stream event; ``tracking.py`` links each camera's new
observations into tracks (``adserver.tracks``) and keeps what is left open for the next
batch; ``store.py`` is the tracks table.
"""
