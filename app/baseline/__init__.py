"""The training baseline: its model (``model``), its JSON codec (``codec``), the builder
from training files (``build/``) and the registry of versions a worker holds (``registry``).

Pure: no Faust, no Kafka. The stream layer feeds baselines from the baselines topic into
the registry.
"""
