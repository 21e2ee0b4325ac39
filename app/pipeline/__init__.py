"""The data path's steps and the drivers that share them: ``fold`` (a record to a binned
event or a dead letter), ``close`` (a complete window to its result and drift event),
``results`` (window result and drift-event documents), and the offline drivers that run the
same steps without Kafka: ``analyze`` (a file), ``evaluate`` (a file as one window),
``replay`` (merging replayed partials). Pure: no Faust, no Kafka.
"""
