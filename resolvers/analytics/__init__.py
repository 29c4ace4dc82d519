"""What the analytics domain's fields do: async functions and DataLoaders over models."""
