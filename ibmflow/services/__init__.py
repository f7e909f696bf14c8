"""The use cases: each command runs in one transaction (`Context.tx`) and writes its audit events and outbox rows with its state change."""
