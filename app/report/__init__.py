"""``driftline report``: one self-contained HTML page from window results and drift events.

Pure (no Faust, no Kafka): ``load`` reads the JSONL documents, ``incidents`` finds the runs
of drifted windows, ``figures`` builds the plotly figures, ``page`` writes the HTML.
"""
