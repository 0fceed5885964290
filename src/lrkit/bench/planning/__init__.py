"""Planning: what to run (the suite, the config, the budgets, the LR-tuning grid)."""
