"""``driftline ui``: a live page of the windows and alerts topics.

``state`` is what the page holds per model (pure: no Kafka, no web); ``views`` turns it
into the JSON the page polls (plotly figures from ``app.report.figures``); ``feed`` reads
the topics into it; ``server`` serves the page (aiohttp).
"""
