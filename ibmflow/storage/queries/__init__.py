"""Named queries the use cases ask for, one module per area (`accounts`, `chase`, `mail`,
`nominations`, `roster`, ...); `storage.repository` keeps the loading of a process and its roster,
`storage.facts_reader` the facts its guards read. Services ask by name and never build a `select(`
themselves (`tests/test_layering.py`)."""
