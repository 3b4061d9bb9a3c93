"""Redis: the hot tier, the live feed, rate limits; the key layout in ``keys``."""
