-- Builds run as Nomad batch jobs (issue #12). Mirrors paastech/db/tables.py.
-- plan: what detection found (kind, runtime, port, health path, Procfile process types),
--       for the release that follows the build.
-- job_id: the Nomad job that runs (or ran) the build; derivable from the id, stored so the
--         row says where to look.
-- job_running_at: when Nomad reported the build's task running (the scheduling overhead is
--                 job_running_at - started_at).
ALTER TABLE builds
    ADD COLUMN plan jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN job_id varchar(100) NOT NULL DEFAULT '',
    ADD COLUMN job_running_at timestamptz;

-- The restart sweep and queue positions read only the unfinished builds.
CREATE INDEX builds_unfinished ON builds (created_at) WHERE status IN ('queued', 'running');
