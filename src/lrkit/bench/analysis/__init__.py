"""Analysis: statistics over the records (aggregates, claims, the recommendation)."""
