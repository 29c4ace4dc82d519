"""What the posts domain's fields do: async functions and DataLoaders over models."""
