-- Functions and scale to zero: whether a project sleeps (the reconciler applies 0 instances
-- while it does), how often it was invoked, and the time each wake held its first request.

ALTER TABLE projects ADD COLUMN asleep boolean NOT NULL DEFAULT false;
ALTER TABLE projects ADD COLUMN invocations bigint NOT NULL DEFAULT 0 CHECK (invocations >= 0);
ALTER TABLE projects ADD COLUMN last_request_at timestamptz;
ALTER TABLE projects ADD COLUMN asleep_since timestamptz;

ALTER TABLE cold_starts ADD COLUMN held_ms integer;
ALTER TABLE cold_starts ADD COLUMN requests integer NOT NULL DEFAULT 1 CHECK (requests >= 0);
CREATE INDEX cold_starts_project_created ON cold_starts (project, created_at DESC);
