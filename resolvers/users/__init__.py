"""What the users domain's fields do: async functions and DataLoaders over models."""
