"""``driftline demo``: generated card-fraud traffic (``traffic``) and the end-to-end run
against the local broker (``run``)."""
