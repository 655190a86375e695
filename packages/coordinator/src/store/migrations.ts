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
];
