"""From a file to text, records and chunks: pure parsing and chunking, run in the
extraction processes (``pool``). Knows nothing of scans, the registry or the bus."""
