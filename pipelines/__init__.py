"""Item pipelines, in order: clean text -> published date -> validate -> persist."""
