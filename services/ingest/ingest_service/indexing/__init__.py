"""From a scan's files to registered documents and published embed work: the scan
runner, the file and record-file indexers over one shared document indexer, the work
gate, the removal of documents and the resumption of lost work."""
