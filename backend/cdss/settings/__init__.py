"""Settings per environment: `base` holds everything, `production` and `test` only adjust it."""
