"""What the feed domain's fields do: async functions and DataLoaders over models."""
