import type { Migration } from "../sql/migrate.js";

/**
 * The coordinator's schema, compiled in. Append only: a released migration is never edited, a change is
 * a new migration (the runner refuses a database that knows a migration this code does not).
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: "jobs, outbox, dead letters, settings",
    sql: `
      CREATE TABLE tessera_jobs (
        seq               bigserial UNIQUE,
        job_id            text PRIMARY KEY,
        component         text NOT NULL,
        state             text NOT NULL CHECK (state IN ('pending', 'queued', 'completed', 'failed', 'cancelled')),
        limit_key         text,
        idempotency_key   text,
        envelope          jsonb NOT NULL,
        attempts          integer NOT NULL DEFAULT 0,
        dispatches        integer NOT NULL DEFAULT 0,
        redrives          integer NOT NULL DEFAULT 0,
        reason_code       text,
        reason_detail     text,
        output            jsonb,
        instance_id       text,
        duration_ms       integer,
        duplicate_results integer NOT NULL DEFAULT 0,
        stream_seq        bigint,
        created_at        timestamptz NOT NULL DEFAULT now(),
        dispatched_at     timestamptz,
        redriven_at       timestamptz,
        finished_at       timestamptz,
        updated_at        timestamptz NOT NULL DEFAULT now()
      );
      CREATE UNIQUE INDEX tessera_jobs_idempotency ON tessera_jobs (component, idempotency_key) WHERE idempotency_key IS NOT NULL;
      CREATE INDEX tessera_jobs_component_state ON tessera_jobs (component, state, seq);
      CREATE INDEX tessera_jobs_state ON tessera_jobs (state, seq);
      CREATE INDEX tessera_jobs_limit_key ON tessera_jobs (limit_key, seq) WHERE limit_key IS NOT NULL;

      -- One row per publish still owed to the bus. The relay deletes a row once the bus has stored the job
      -- (that deletion is the "sent" mark: the job row keeps dispatched_at and dispatches).
      CREATE TABLE tessera_outbox (
        id         bigserial PRIMARY KEY,
        job_id     text NOT NULL REFERENCES tessera_jobs (job_id),
        component  text NOT NULL,
        limit_key  text,
        dedup_key  text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX tessera_outbox_job ON tessera_outbox (job_id);

      CREATE TABLE tessera_dead_letters (
        seq              bigserial UNIQUE,
        component        text NOT NULL,
        stream_seq       bigint NOT NULL,
        job_id           text NOT NULL,
        deliveries       integer NOT NULL,
        reason_code      text NOT NULL,
        reason_detail    text NOT NULL,
        dead_lettered_at timestamptz NOT NULL DEFAULT now(),
        redriven_at      timestamptz,
        PRIMARY KEY (component, stream_seq)
      );
      CREATE INDEX tessera_dead_letters_job ON tessera_dead_letters (job_id);

      CREATE TABLE tessera_settings (
        name       text PRIMARY KEY,
        value      jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    id: 2,
    name: "job rows updated in place (HOT), outbox without a foreign key",
    // A job's row is written three times (pending, queued, decided). With `state` in two indexes every one of
    // those updates wrote a new entry in each of the table's indexes; with no indexed column changed and room
    // left on the page (fillfactor 50), Postgres updates the row in place (a heap-only tuple) and touches no
    // index. Listing by state filters the component or seq order instead. The outbox's foreign key checked and
    // locked the job row for every outbox row, which the job's own insert, in the same statement, already
    // guarantees. Measured in docs/decisions/0018-hot-job-rows.md.
    sql: `
      ALTER TABLE tessera_outbox DROP CONSTRAINT tessera_outbox_job_id_fkey;
      DROP INDEX tessera_jobs_component_state;
      DROP INDEX tessera_jobs_state;
      CREATE INDEX tessera_jobs_component ON tessera_jobs (component, seq);
      ALTER TABLE tessera_jobs SET (fillfactor = 50);
    `,
  },
  {
    id: 3,
    name: "coordinators as replicas: claims, leases, shared limits, job events",
    // Expand only (new tables, a nullable column, triggers and functions): release 2 keeps running beside it.
    compatibleWith: 2,
    sql: `
      -- Coordinators alive on this database, each renewing its row. A claim or lease held by a coordinator
      -- whose row has lapsed is free for the others.
      CREATE TABLE tessera_coordinators (
        id          text PRIMARY KEY,
        started_at  timestamptz NOT NULL DEFAULT now(),
        alive_until timestamptz NOT NULL
      );
      -- The coordinator publishing this row: its submitter, or whoever took it over; null: nobody yet.
      ALTER TABLE tessera_outbox ADD COLUMN claimed_by text;

      -- Work that runs on one coordinator at a time (retention, the slot sweep).
      CREATE TABLE tessera_leases (
        name       text PRIMARY KEY,
        holder     text NOT NULL,
        expires_at timestamptz NOT NULL
      );

      -- Per-key limits shared by every coordinator: a slot per dispatched, undecided job of a limited key, and
      -- a row per key that serializes acquisitions and holds its rate bucket.
      CREATE TABLE tessera_limit_keys (
        component   text NOT NULL,
        limit_key   text NOT NULL,
        tokens      double precision NOT NULL,
        refilled_at timestamptz NOT NULL,
        PRIMARY KEY (component, limit_key)
      );
      CREATE TABLE tessera_limit_slots (
        job_id      text PRIMARY KEY,
        component   text NOT NULL,
        limit_key   text NOT NULL,
        acquired_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX tessera_limit_slots_key ON tessera_limit_slots (component, limit_key);

      -- Takes slots and rate tokens for candidate jobs, in the order given, as far as each key has room. A job
      -- holding a slot already (a republish) keeps it at no cost; a job no longer pending or queued gets none.
      -- The key rows are locked first, in one order; every statement after that reads a fresh snapshot (as a
      -- volatile function's statements do), so it sees the slots other coordinators committed meanwhile.
      CREATE FUNCTION tessera_acquire_slots(
        job_ids text[], components text[], limit_keys text[], concurrency int[], rate_limit double precision[],
        rate_interval_ms double precision[]
      ) RETURNS TABLE (job_id text, granted boolean, key_full boolean, key_tokens double precision)
      LANGUAGE plpgsql AS $fn$
      #variable_conflict use_column
      DECLARE
        at timestamptz;
      BEGIN
        INSERT INTO tessera_limit_keys (component, limit_key, tokens, refilled_at)
        SELECT DISTINCT u.c, u.k, coalesce(u.rl, 0), clock_timestamp()
          FROM unnest(components, limit_keys, rate_limit) AS u(c, k, rl)
        ON CONFLICT DO NOTHING;
        PERFORM 1 FROM tessera_limit_keys k
         WHERE (k.component, k.limit_key) IN (SELECT u.c, u.k FROM unnest(components, limit_keys) AS u(c, k))
         ORDER BY k.component, k.limit_key
           FOR UPDATE;
        at := clock_timestamp();
        RETURN QUERY
        WITH input AS (
          SELECT u.* FROM unnest(job_ids, components, limit_keys, concurrency, rate_limit, rate_interval_ms)
                          WITH ORDINALITY AS u(job_id, component, limit_key, concurrency, rate_limit, rate_interval_ms, ord)
        ), held AS (
          SELECT s.job_id FROM tessera_limit_slots s WHERE s.job_id = ANY(job_ids)
        ), keys AS (
          SELECT k.component, k.limit_key, l.concurrency, l.rate_limit,
                 (SELECT count(*) FROM tessera_limit_slots s WHERE s.component = k.component AND s.limit_key = k.limit_key) AS used,
                 CASE WHEN l.rate_limit IS NULL THEN NULL
                      ELSE least(l.rate_limit, k.tokens + extract(epoch FROM at - k.refilled_at) * 1000 * l.rate_limit / l.rate_interval_ms)
                 END AS tokens
            FROM tessera_limit_keys k
            JOIN (SELECT DISTINCT i.component, i.limit_key, i.concurrency, i.rate_limit, i.rate_interval_ms FROM input i) l
              ON l.component = k.component AND l.limit_key = k.limit_key
        ), ranked AS (
          SELECT i.job_id, i.component, i.limit_key, h.job_id IS NOT NULL AS holding,
                 row_number() OVER (PARTITION BY i.component, i.limit_key, h.job_id IS NOT NULL ORDER BY i.ord) AS rn
            FROM input i
            JOIN tessera_jobs j ON j.job_id = i.job_id AND j.state IN ('pending', 'queued')
            LEFT JOIN held h ON h.job_id = i.job_id
        ), decided AS (
          SELECT r.job_id, r.component, r.limit_key, r.holding,
                 r.holding OR r.rn <= least(coalesce(k.concurrency - k.used, 2147483647), coalesce(floor(k.tokens)::bigint, 2147483647)) AS granted
            FROM ranked r JOIN keys k ON k.component = r.component AND k.limit_key = r.limit_key
        ), taken AS (
          INSERT INTO tessera_limit_slots (job_id, component, limit_key)
          SELECT d.job_id, d.component, d.limit_key FROM decided d WHERE d.granted AND NOT d.holding
          ON CONFLICT DO NOTHING
          RETURNING component, limit_key
        ), counted AS (
          SELECT t.component, t.limit_key, count(*) AS n FROM taken t GROUP BY t.component, t.limit_key
        ), spent AS (
          UPDATE tessera_limit_keys k
             SET tokens = ks.tokens - coalesce(c.n, 0), refilled_at = at
            FROM keys ks LEFT JOIN counted c ON c.component = ks.component AND c.limit_key = ks.limit_key
           WHERE ks.component = k.component AND ks.limit_key = k.limit_key AND ks.tokens IS NOT NULL
          RETURNING k.component, k.limit_key, k.tokens
        )
        SELECT d.job_id, d.granted,
               k.concurrency IS NOT NULL AND k.used + coalesce(c.n, 0) >= k.concurrency,
               s.tokens
          FROM decided d
          JOIN keys k ON k.component = d.component AND k.limit_key = d.limit_key
          LEFT JOIN counted c ON c.component = d.component AND c.limit_key = d.limit_key
          LEFT JOIN spent s ON s.component = d.component AND s.limit_key = d.limit_key;
      END $fn$;

      -- A limited job's slot is freed in the statement that decides it, whoever runs it. A row trigger with
      -- a WHEN clause: for a job without a limit key the function is never called.
      CREATE FUNCTION tessera_free_slot() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        DELETE FROM tessera_limit_slots WHERE job_id = NEW.job_id;
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER tessera_jobs_free_slot AFTER UPDATE OF state ON tessera_jobs FOR EACH ROW
        WHEN (NEW.limit_key IS NOT NULL AND NEW.state IN ('completed', 'failed', 'cancelled') AND OLD.state IS DISTINCT FROM NEW.state)
        EXECUTE FUNCTION tessera_free_slot();

      -- Every change of a job's state, whoever made it, is announced to the other coordinators (waiters, job
      -- events, the dashboard) on the channel tessera_job_events, with the writer's application_name so each
      -- coordinator skips its own; only while more than one coordinator is present, so one alone pays no
      -- NOTIFY. One notification per statement and 25 jobs, which keeps a payload under NOTIFY's 8,000 bytes:
      -- the fields are bounded (uuid, component name, state, a reason code of at most 64 bytes, a timestamp).
      CREATE FUNCTION tessera_job_changes() RETURNS trigger LANGUAGE plpgsql AS $fn$
      DECLARE
        entries json[];
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM tessera_coordinators WHERE alive_until > now() OFFSET 1) THEN
          RETURN NULL;
        END IF;
        IF TG_OP = 'UPDATE' THEN
          SELECT array_agg(json_build_array(c.job_id, c.component, c.state, c.reason_code, c.updated_at, c.limit_key IS NOT NULL))
            INTO entries
            FROM changed c JOIN previous p ON p.job_id = c.job_id
           WHERE p.state IS DISTINCT FROM c.state;
        ELSE
          SELECT array_agg(json_build_array(c.job_id, c.component, c.state, c.reason_code, c.updated_at, c.limit_key IS NOT NULL))
            INTO entries
            FROM changed c;
        END IF;
        IF entries IS NOT NULL THEN
          FOR chunk IN 0 .. (array_length(entries, 1) - 1) / 25 LOOP
            PERFORM pg_notify('tessera_job_events',
              json_build_object('o', current_setting('application_name'), 'e', to_json(entries[chunk * 25 + 1 : chunk * 25 + 25]))::text);
          END LOOP;
        END IF;
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER tessera_jobs_inserted AFTER INSERT ON tessera_jobs
        REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tessera_job_changes();
      CREATE TRIGGER tessera_jobs_changed AFTER UPDATE ON tessera_jobs
        REFERENCING OLD TABLE AS previous NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tessera_job_changes();
    `,
  },
  {
    id: 4,
    name: "connections and their sealed credentials, authorizations in progress",
    // Expand only (new tables): release 3 keeps running beside it and ignores them.
    compatibleWith: 3,
    sql: `
      -- A user's connection to a provider. Tokens only as a box sealed by the vault (key_id names the key,
      -- sealed holds format, nonce, ciphertext and tag); everything else is metadata the admin API may show.
      -- version counts credential writes: a refresher that finds it moved after taking the lock knows another
      -- coordinator refreshed. Refreshes serialize on an advisory lock per connection, not on this row.
      CREATE TABLE tessera_connections (
        provider     text NOT NULL,
        user_id      text NOT NULL,
        state        text NOT NULL CHECK (state IN ('connected', 'needs_reauth')),
        scopes       text[] NOT NULL DEFAULT '{}',
        expires_at   timestamptz,
        refreshed_at timestamptz,
        last_error   text,
        cursor       text,
        version      bigint NOT NULL DEFAULT 1,
        key_id       text,
        sealed       bytea,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (provider, user_id),
        CHECK ((key_id IS NULL) = (sealed IS NULL))
      );
      -- What a key rotation has left: boxes under another key than the new one.
      CREATE INDEX tessera_connections_key_id ON tessera_connections (key_id) WHERE key_id IS NOT NULL;

      -- Authorizations begun and not yet finished, found by the hash of their state (the state itself is not
      -- kept), PKCE verifier and nonce sealed; taken (deleted) by the callback, used or not.
      CREATE TABLE tessera_oauth_pending (
        state_hash text PRIMARY KEY,
        provider   text NOT NULL,
        user_id    text NOT NULL,
        key_id     text NOT NULL,
        sealed     bytea NOT NULL,
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX tessera_oauth_pending_expires ON tessera_oauth_pending (expires_at);
    `,
  },
  {
    id: 5,
    name: "gateway accounts",
    // Expand only (a new table): release 4 keeps running beside it and ignores it.
    compatibleWith: 4,
    sql: `
      -- The gateway's accounts (decision 0042): one tenant's installation on one platform. Credentials only as
      -- one box sealed by the vault (signing secrets and outbound tokens together); the rest is metadata the
      -- admin API shows. Tenants are the distinct tenant values.
      CREATE TABLE tessera_gateway_accounts (
        channel_type         text NOT NULL,
        tenant               text NOT NULL,
        account              text NOT NULL,
        disabled             boolean NOT NULL DEFAULT false,
        rate_limit           jsonb,
        settings             jsonb NOT NULL DEFAULT '{}',
        credential_names     text[] NOT NULL DEFAULT '{}',
        signing_secret_count integer NOT NULL DEFAULT 0,
        -- Counts credential writes: a rotation that read version n writes only if it is still n.
        credentials_version  integer NOT NULL DEFAULT 0,
        key_id               text,
        sealed               bytea,
        rotated_at           timestamptz,
        created_at           timestamptz NOT NULL DEFAULT now(),
        updated_at           timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (channel_type, tenant, account),
        CHECK ((key_id IS NULL) = (sealed IS NULL))
      );
      CREATE INDEX tessera_gateway_accounts_tenant ON tessera_gateway_accounts (tenant);
    `,
  },
  {
    id: 6,
    name: "gateway accounts installed through OAuth",
    // Expand only (a nullable column): release 5 keeps running beside it; it serves such an account's own box
    // without the connection's token, so finish the upgrade before installing accounts through OAuth.
    compatibleWith: 5,
    sql: `
      -- The connection an account installed through OAuth takes its token from (decision 0042's addendum):
      -- {provider, userId, credential}. A reference, not a copy, so the connection's refreshes reach the gateway.
      ALTER TABLE tessera_gateway_accounts ADD COLUMN connection jsonb;
    `,
  },
];
