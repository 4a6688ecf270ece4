-- The platform's first schema. Mirrors paastech/db/tables.py.
CREATE TABLE clients (
    id uuid PRIMARY KEY,
    email varchar(254) NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    id uuid PRIMARY KEY,
    client uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    name varchar(100) NOT NULL,
    kind varchar(16) NOT NULL,
    token_hash varchar(64) NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX api_tokens_client ON api_tokens (client);

CREATE TABLE ssh_keys (
    id uuid PRIMARY KEY,
    client uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    name varchar(100) NOT NULL,
    public_key text NOT NULL,
    key_type varchar(40) NOT NULL,
    fingerprint varchar(100) NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ssh_keys_client ON ssh_keys (client);

CREATE TABLE projects (
    id uuid PRIMARY KEY,
    client uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    name varchar(40) NOT NULL UNIQUE,
    kind varchar(16) NOT NULL DEFAULT 'container' CHECK (kind IN ('container', 'function')),
    instances integer NOT NULL DEFAULT 1 CHECK (instances >= 0),
    cpu integer NOT NULL DEFAULT 200,
    memory integer NOT NULL DEFAULT 256,
    idle_timeout integer NOT NULL DEFAULT 300,
    scale_to_zero boolean NOT NULL DEFAULT false,
    status varchar(20) NOT NULL DEFAULT 'created',
    current_release integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_client ON projects (client);

CREATE TABLE env_vars (
    id uuid PRIMARY KEY,
    project uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key varchar(128) NOT NULL,
    value_encrypted text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project, key)
);

CREATE TABLE builds (
    id uuid PRIMARY KEY,
    project uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    number integer NOT NULL,
    status varchar(16) NOT NULL DEFAULT 'queued',
    git_ref varchar(255) NOT NULL DEFAULT 'refs/heads/main',
    commit_sha varchar(64) NOT NULL,
    image text NOT NULL DEFAULT '',
    digest varchar(100) NOT NULL DEFAULT '',
    log text NOT NULL DEFAULT '',
    error text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    UNIQUE (project, number)
);

CREATE TABLE releases (
    id uuid PRIMARY KEY,
    project uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    version integer NOT NULL CHECK (version >= 1),
    build uuid REFERENCES builds (id) ON DELETE SET NULL,
    image text NOT NULL DEFAULT '',
    digest varchar(100) NOT NULL DEFAULT '',
    config jsonb NOT NULL DEFAULT '{}',
    description text NOT NULL DEFAULT '',
    status varchar(16) NOT NULL DEFAULT 'pending',
    reason text NOT NULL DEFAULT '',
    nomad_job_version integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project, version)
);

CREATE TABLE domains (
    id uuid PRIMARY KEY,
    project uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    hostname varchar(253) NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_events (
    id bigserial PRIMARY KEY,
    client uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    actor varchar(254) NOT NULL,
    action varchar(64) NOT NULL,
    target varchar(255) NOT NULL DEFAULT '',
    ip varchar(64) NOT NULL DEFAULT '',
    detail jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_client_created ON audit_events (client, created_at DESC);

CREATE TABLE cold_starts (
    id uuid PRIMARY KEY,
    project uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    release_version integer,
    placed_ms integer,
    image_ready_ms integer,
    started_ms integer,
    first_answer_ms integer,
    total_ms integer,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE login_attempts (
    id bigserial PRIMARY KEY,
    email varchar(254) NOT NULL,
    ip varchar(64) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_email ON login_attempts (email, created_at);
CREATE INDEX login_attempts_ip ON login_attempts (ip, created_at);
