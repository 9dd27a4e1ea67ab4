"""The fan-out benchmark's parts; ``bench/fanout.py`` runs them."""
