"""Named queries the use cases ask for, one module per area; `storage.repository` keeps the loading
of a process and its facts. Services ask by name and never build a `select(` themselves."""
