-- Deploys through the control loop: each release's transitions as rows, and the outbox of
-- side effects that must follow a committed change (a deleted project's job, images, repo).

CREATE TABLE release_events (
    id bigserial PRIMARY KEY,
    project uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    version integer NOT NULL CHECK (version >= 1),
    status varchar(16) NOT NULL,
    message text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX release_events_project_version ON release_events (project, version, id);

-- No foreign key to projects: the row outlives the project it cleans up after.
CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    kind varchar(32) NOT NULL,
    project_id uuid NOT NULL,
    project_name varchar(40) NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    done_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (kind, id) WHERE done_at IS NULL;
