"""Where a source's files come from: the allowed roots (resolving and walking paths)
and the local copies of uploaded files."""
