-- secure-vote: database roles, schema and extensions. Tables come from the Alembic migrations
-- (`securevote migrate`), never from this file.
--
-- Run once, as a superuser, connected to the application database, with psql >= 15:
--   * docker compose: mounted into /docker-entrypoint-initdb.d/ of the postgres:15 image;
--   * Kubernetes (kind/staging): the same file, from a ConfigMap, in the PostgreSQL StatefulSet;
--   * managed PostgreSQL: `psql "$ADMIN_URL" -f database/init.sql` with the variables below set
--     (see docs/operations.md, "Database roles").
--
-- Passwords come from the environment (psql's \getenv), never from this file:
--   SECUREVOTE_DB_MIGRATOR_PASSWORD  owner of the schema; the migration job logs in with it
--   SECUREVOTE_DB_AUTH_PASSWORD, SECUREVOTE_DB_ELECTION_PASSWORD, SECUREVOTE_DB_VOTING_PASSWORD,
--   SECUREVOTE_DB_RESULTS_PASSWORD, SECUREVOTE_DB_FRONTEND_PASSWORD   one per service
--   SECUREVOTE_DB_BACKUP_PASSWORD    read-only, for pg_dump and the audit export
--
-- Least privilege:
--   securevote_migrator  owns schema `securevote` and every table in it (DDL); no other rights.
--   securevote_app       (no login) USAGE on the schema, SELECT on every table: the ownership
--                        rule lets a service read another's table inside its own transaction.
--   securevote_<service> (login, member of securevote_app) INSERT/UPDATE/DELETE only on the
--                        tables that service owns (securevote_admin.table_writers), and INSERT
--                        on audit_log (every service appends; triggers refuse UPDATE/DELETE).
--   securevote_backup    (login) pg_read_all_data: pg_dump, audit export, read replicas.
-- Write grants are applied by an event trigger when the migrator creates a table, so a
-- migration never has to know about roles. A table with no row in table_writers stays
-- read-only for every service (fail closed) and the migration prints a WARNING; add the row and
-- run `CALL securevote_admin.apply_grants();` as a superuser (docs/runbooks/migrations.md).

\set ON_ERROR_STOP on

\getenv migrator_password SECUREVOTE_DB_MIGRATOR_PASSWORD
\getenv auth_password SECUREVOTE_DB_AUTH_PASSWORD
\getenv election_password SECUREVOTE_DB_ELECTION_PASSWORD
\getenv voting_password SECUREVOTE_DB_VOTING_PASSWORD
\getenv results_password SECUREVOTE_DB_RESULTS_PASSWORD
\getenv frontend_password SECUREVOTE_DB_FRONTEND_PASSWORD
\getenv backup_password SECUREVOTE_DB_BACKUP_PASSWORD

\if :{?migrator_password}
\else
  \warn 'init.sql: SECUREVOTE_DB_MIGRATOR_PASSWORD is not set'
  \quit
\endif
\if :{?auth_password}
\else
  \warn 'init.sql: SECUREVOTE_DB_AUTH_PASSWORD is not set'
  \quit
\endif
\if :{?election_password}
\else
  \warn 'init.sql: SECUREVOTE_DB_ELECTION_PASSWORD is not set'
  \quit
\endif
\if :{?voting_password}
\else
  \warn 'init.sql: SECUREVOTE_DB_VOTING_PASSWORD is not set'
  \quit
\endif
\if :{?results_password}
\else
  \warn 'init.sql: SECUREVOTE_DB_RESULTS_PASSWORD is not set'
  \quit
\endif
\if :{?frontend_password}
\else
  \warn 'init.sql: SECUREVOTE_DB_FRONTEND_PASSWORD is not set'
  \quit
\endif
\if :{?backup_password}
\else
  \warn 'init.sql: SECUREVOTE_DB_BACKUP_PASSWORD is not set'
  \quit
\endif

SELECT current_database() AS dbname \gset

BEGIN;

SET LOCAL password_encryption = 'scram-sha-256';

-- ---- extensions ---------------------------------------------------------------------------
-- pgcrypto: digest()/gen_random_bytes() for operators' ad-hoc checks of hashes in SQL.
-- pg_stat_statements: query statistics (effective when listed in shared_preload_libraries).
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;

-- ---- roles --------------------------------------------------------------------------------
CREATE ROLE securevote_migrator LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT
    PASSWORD :'migrator_password';
CREATE ROLE securevote_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE ROLE securevote_auth LOGIN INHERIT IN ROLE securevote_app PASSWORD :'auth_password';
CREATE ROLE securevote_election LOGIN INHERIT IN ROLE securevote_app
    PASSWORD :'election_password';
CREATE ROLE securevote_voting LOGIN INHERIT IN ROLE securevote_app PASSWORD :'voting_password';
CREATE ROLE securevote_results LOGIN INHERIT IN ROLE securevote_app
    PASSWORD :'results_password';
CREATE ROLE securevote_frontend LOGIN INHERIT IN ROLE securevote_app
    PASSWORD :'frontend_password';
CREATE ROLE securevote_backup LOGIN INHERIT IN ROLE pg_read_all_data
    PASSWORD :'backup_password';

-- Nobody but these roles may connect or create objects.
REVOKE ALL ON DATABASE :"dbname" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"dbname"
    TO securevote_migrator, securevote_app, securevote_backup;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- ---- the application schema ---------------------------------------------------------------
CREATE SCHEMA securevote AUTHORIZATION securevote_migrator;
GRANT USAGE ON SCHEMA securevote TO securevote_app;
ALTER ROLE securevote_migrator SET search_path = securevote;
ALTER ROLE securevote_app SET search_path = securevote;
ALTER ROLE securevote_auth SET search_path = securevote;
ALTER ROLE securevote_election SET search_path = securevote;
ALTER ROLE securevote_voting SET search_path = securevote;
ALTER ROLE securevote_results SET search_path = securevote;
ALTER ROLE securevote_frontend SET search_path = securevote;
ALTER ROLE securevote_backup SET search_path = securevote;
-- A stuck session must not hold locks through an election: bound idle transactions.
ALTER ROLE securevote_app SET idle_in_transaction_session_timeout = '60s';

-- Every table and sequence the migrator creates is readable by every service.
ALTER DEFAULT PRIVILEGES FOR ROLE securevote_migrator IN SCHEMA securevote
    GRANT SELECT ON TABLES TO securevote_app;
ALTER DEFAULT PRIVILEGES FOR ROLE securevote_migrator IN SCHEMA securevote
    GRANT USAGE, SELECT ON SEQUENCES TO securevote_app;
ALTER DEFAULT PRIVILEGES FOR ROLE securevote_migrator IN SCHEMA securevote
    REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
-- The services may call the migrator's functions (the voting service's ballot_box_cast_many,
-- ADRs 0012 and 0013): they are SECURITY INVOKER, so the caller's own table grants still apply.
ALTER DEFAULT PRIVILEGES FOR ROLE securevote_migrator IN SCHEMA securevote
    GRANT EXECUTE ON FUNCTIONS TO securevote_app;

-- ---- who writes which table (docs/architecture.md, "Parts") -------------------------------
CREATE SCHEMA securevote_admin;
REVOKE ALL ON SCHEMA securevote_admin FROM PUBLIC;
GRANT USAGE ON SCHEMA securevote_admin TO securevote_migrator;

CREATE TABLE securevote_admin.table_writers (
    table_name text NOT NULL,
    role_name name NOT NULL,
    privileges text NOT NULL DEFAULT 'INSERT, UPDATE, DELETE'
        CHECK (privileges IN ('INSERT', 'INSERT, UPDATE', 'INSERT, UPDATE, DELETE')),
    PRIMARY KEY (table_name, role_name)
);
GRANT SELECT ON securevote_admin.table_writers TO securevote_migrator;

INSERT INTO securevote_admin.table_writers (table_name, role_name, privileges) VALUES
    -- shared library: append-only, hash-chained (UPDATE/DELETE are refused by triggers too)
    ('audit_log', 'securevote_auth', 'INSERT'),
    ('audit_log', 'securevote_election', 'INSERT'),
    ('audit_log', 'securevote_voting', 'INSERT'),
    ('audit_log', 'securevote_results', 'INSERT'),
    ('audit_log', 'securevote_frontend', 'INSERT'),
    -- auth: organisations, accounts, voter tokens, mail outbox
    ('organisations', 'securevote_auth', 'INSERT, UPDATE, DELETE'),
    ('accounts', 'securevote_auth', 'INSERT, UPDATE, DELETE'),
    ('refresh_tokens', 'securevote_auth', 'INSERT, UPDATE, DELETE'),
    ('voter_tokens', 'securevote_auth', 'INSERT, UPDATE, DELETE'),
    ('mail_outbox', 'securevote_auth', 'INSERT, UPDATE, DELETE'),
    ('dev_mailbox', 'securevote_auth', 'INSERT, UPDATE, DELETE'),
    -- election: elections, questions, options, voter roll, trustees and key ceremony
    ('elections', 'securevote_election', 'INSERT, UPDATE, DELETE'),
    ('questions', 'securevote_election', 'INSERT, UPDATE, DELETE'),
    ('options', 'securevote_election', 'INSERT, UPDATE, DELETE'),
    ('voters', 'securevote_election', 'INSERT, UPDATE, DELETE'),
    ('ceremony_trustees', 'securevote_election', 'INSERT, UPDATE, DELETE'),
    ('key_ceremonies', 'securevote_election', 'INSERT, UPDATE, DELETE'),
    ('ceremony_steps', 'securevote_election', 'INSERT, UPDATE, DELETE'),
    ('ceremony_shares', 'securevote_election', 'INSERT, UPDATE, DELETE'),
    ('ceremony_complaints', 'securevote_election', 'INSERT, UPDATE, DELETE'),
    ('server_trustee_keys', 'securevote_election', 'INSERT, UPDATE, DELETE'),
    ('election_observers', 'securevote_election', 'INSERT, UPDATE, DELETE'),
    -- voting: the board (ballots, heads, spoiled) is append-only; triggers refuse the rest
    ('ballots', 'securevote_voting', 'INSERT'),
    ('board_heads', 'securevote_voting', 'INSERT'),
    ('spoiled_ballots', 'securevote_voting', 'INSERT'),
    ('counted_ballots', 'securevote_voting', 'INSERT, UPDATE'),
    ('board_state', 'securevote_voting', 'INSERT, UPDATE'),
    -- results: tallies, decryption shares, results
    ('tallies', 'securevote_results', 'INSERT, UPDATE, DELETE'),
    ('decryption_shares', 'securevote_results', 'INSERT, UPDATE, DELETE'),
    ('results', 'securevote_results', 'INSERT, UPDATE, DELETE'),
    ('rejected_shares', 'securevote_results', 'INSERT'),
    -- the stored election record of a published election: built once, never changed
    ('election_records', 'securevote_results', 'INSERT'),
    ('election_record_chunks', 'securevote_results', 'INSERT');

-- Grants the writers of one table (called by the event trigger and by apply_grants).
CREATE FUNCTION securevote_admin.grant_writers(target regclass, table_name text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    writer record;
    granted integer := 0;
BEGIN
    FOR writer IN
        SELECT w.role_name, w.privileges FROM securevote_admin.table_writers AS w
        WHERE w.table_name = grant_writers.table_name
    LOOP
        EXECUTE format('GRANT %s ON TABLE %s TO %I', writer.privileges, target, writer.role_name);
        granted := granted + 1;
    END LOOP;
    RETURN granted;
END;
$$;

CREATE FUNCTION securevote_admin.on_create_table() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    created record;
    table_name text;
BEGIN
    FOR created IN
        SELECT objid, object_identity FROM pg_event_trigger_ddl_commands()
        WHERE object_type = 'table' AND schema_name = 'securevote'
    LOOP
        SELECT c.relname INTO table_name FROM pg_class AS c WHERE c.oid = created.objid;
        IF securevote_admin.grant_writers(created.objid::regclass, table_name) = 0
           AND table_name <> 'alembic_version' THEN
            RAISE WARNING 'table % has no row in securevote_admin.table_writers: it is '
                'read-only for every service until one is added and apply_grants() runs',
                created.object_identity;
        END IF;
    END LOOP;
END;
$$;
GRANT EXECUTE ON FUNCTION securevote_admin.grant_writers(regclass, text) TO securevote_migrator;
GRANT EXECUTE ON FUNCTION securevote_admin.on_create_table() TO securevote_migrator;

CREATE EVENT TRIGGER securevote_grant_writers ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS')
    EXECUTE FUNCTION securevote_admin.on_create_table();

-- Re-applies every grant, e.g. after adding a row to table_writers. Run as a superuser (or as
-- the migrator, which owns the tables).
CREATE PROCEDURE securevote_admin.apply_grants() LANGUAGE plpgsql AS $$
DECLARE
    existing record;
BEGIN
    FOR existing IN
        SELECT c.oid, c.relname FROM pg_class AS c
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = 'securevote' AND c.relkind IN ('r', 'p')
    LOOP
        PERFORM securevote_admin.grant_writers(existing.oid::regclass, existing.relname);
    END LOOP;
END;
$$;

COMMIT;
