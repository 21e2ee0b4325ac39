"""The stream layer: the only package that imports Faust (and talks to Kafka)."""
