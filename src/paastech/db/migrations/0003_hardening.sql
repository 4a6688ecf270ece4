-- Hardening (issue #15). Mirrors paastech/db/tables.py.

-- Throttling: every attempt is recorded before its password is checked; signups are
-- throttled per address through the same table.
ALTER TABLE login_attempts ADD COLUMN kind varchar(16) NOT NULL DEFAULT 'login';
CREATE INDEX login_attempts_email_ip ON login_attempts (email, ip, created_at);

-- Custom domains are claims until the owner proves control of the name with a DNS TXT
-- record holding ``challenge``; only verified ones are routed. A hostname is still held by
-- one claim at a time; a claim left unproved past domains.pending_hours may be taken over.
ALTER TABLE domains ADD COLUMN challenge varchar(64) NOT NULL DEFAULT '';
ALTER TABLE domains ADD COLUMN verified_at timestamptz;

-- What the route feed may serve: verified hostnames only.
CREATE VIEW routable_domains AS
    SELECT project, hostname FROM domains WHERE verified_at IS NOT NULL;

-- Revocation reaches every process at once: a revoked or deleted token, a deleted SSH key
-- (directly or by its Client's deletion) is announced on a channel each gateway replica and
-- forge process LISTENs on. The payload is the token id / the key fingerprint.
CREATE FUNCTION paastech_notify_token_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('paastech_token_revoked', OLD.id::text);
    ELSIF NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL THEN
        PERFORM pg_notify('paastech_token_revoked', NEW.id::text);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER api_tokens_revoked AFTER UPDATE OF revoked_at OR DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION paastech_notify_token_revoked();

CREATE FUNCTION paastech_notify_ssh_key_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('paastech_ssh_key_deleted', OLD.fingerprint);
    RETURN NULL;
END;
$$;
CREATE TRIGGER ssh_keys_deleted AFTER DELETE ON ssh_keys
    FOR EACH ROW EXECUTE FUNCTION paastech_notify_ssh_key_deleted();
