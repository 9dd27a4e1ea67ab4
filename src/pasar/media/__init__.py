"""Media: storage of uploaded files (ingest, HLS and recording land here later)."""
