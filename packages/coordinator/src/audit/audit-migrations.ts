import type { Migration } from "../sql/migrate.js";

/**
 * The audit log's schema. Its ids start at 100 so that it never collides with the job store's migrations
 * (store/migrations.ts, 1..99); `createCoordinator` runs both lists as one. Append only, like those.
 */
export const AUDIT_MIGRATIONS: readonly Migration[] = [
  {
    id: 100,
    name: "audit log",
    sql: `
      CREATE TABLE tessera_audit (
        id          bigserial PRIMARY KEY,
        at          timestamptz NOT NULL DEFAULT now(),
        action      text NOT NULL,
        target      text NOT NULL,
        job_ids     text[] NOT NULL DEFAULT '{}',
        actor       jsonb NOT NULL,
        outcome     text NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
        status      integer NOT NULL,
        detail      text
      );
      CREATE INDEX tessera_audit_job_ids ON tessera_audit USING gin (job_ids);
    `,
  },
];
