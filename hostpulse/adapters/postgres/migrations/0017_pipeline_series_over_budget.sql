-- The values left out per minute because their series was past its host's series budget.
ALTER TABLE pipeline_minutes ADD COLUMN series_over_budget integer NOT NULL DEFAULT 0;
