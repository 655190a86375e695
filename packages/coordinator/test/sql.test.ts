import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, sleep } from "@tessera/testkit";
import { describe, expect, it } from "vitest";
import { migrate, type Migration } from "../src/sql/migrate.js";
import { openSqlClient } from "../src/sql/open-sql-client.js";
import { sqlBackends } from "./sql-backends.js";

const MIGRATIONS: readonly Migration[] = [
  { id: 1, name: "widgets", sql: "CREATE TABLE widgets (id bigserial PRIMARY KEY, name text NOT NULL)" },
  // Depends on 1, and runs two statements: a migration is a script.
  {
    id: 2,
    name: "widget sizes",
    sql: "ALTER TABLE widgets ADD COLUMN size int; INSERT INTO widgets (name, size) VALUES ('seed', 1)",
  },
  { id: 3, name: "widget index", sql: "CREATE INDEX widgets_name ON widgets (name)" },
];

describe.each(sqlBackends())("SqlClient on $name", (backend) => {
  it("runs parameterized queries; int8 and numeric come back as numbers", async () => {
    const db = await backend.open();
    expect(db.dialect).toBe(backend.name);
    expect(await db.ping()).toBe(true);
    await db.query("CREATE TABLE t (id bigserial PRIMARY KEY, label text, n int8)");
    const inserted = await db.query("INSERT INTO t (label, n) VALUES ($1, $2), ($3, $4)", ["a", 5, "b", 7]);
    expect(inserted.rowCount).toBe(2);
    const { rows } = await db.query<{ id: number; label: string; n: number }>(
      "SELECT id, label, n FROM t WHERE n >= $1 ORDER BY id",
      [5],
    );
    expect(rows).toEqual([
      { id: 1, label: "a", n: 5 },
      { id: 2, label: "b", n: 7 },
    ]);
    const agg = await db.query("SELECT count(*) AS c, sum(n) AS s, sum(n)::numeric / 4 AS q FROM t WHERE label <> $1", [
      "z",
    ]);
    expect(agg.rows).toEqual([{ c: 2, s: 12, q: 3 }]);
  });

  it("runs a statement prepared by name like any other; on Postgres it stays prepared in the session", async () => {
    const db = await backend.open();
    await db.query("CREATE TABLE p (id int PRIMARY KEY, label text)");
    const insert = "INSERT INTO p (id, label) SELECT * FROM unnest($1::int[], $2::text[]) RETURNING id";
    for (const batch of [[1], [2, 3], [4, 5, 6]]) {
      const res = await db.query<{ id: number }>(insert, [batch, batch.map((n) => `n${n}`)], {
        prepareAs: "test_insert_p",
      });
      expect(res.rows.map((r) => r.id)).toEqual(batch);
      expect(res.rowCount).toBe(batch.length);
    }
    if (backend.name === "postgres") {
      // A transaction runs on one connection: the statement prepared there shows in that session's catalog.
      const prepared = await db.transaction(async (tx) => {
        await tx.query(insert, [[7], ["n7"]], { prepareAs: "test_insert_p" });
        return (
          await tx.query<{ name: string }>("SELECT name FROM pg_prepared_statements WHERE name = $1", ["test_insert_p"])
        ).rows;
      });
      expect(prepared).toEqual([{ name: "test_insert_p" }]);
    }
    expect((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM p")).rows).toEqual([
      { n: backend.name === "postgres" ? 7 : 6 },
    ]);
  });

  it.runIf(backend.name === "postgres")(
    "plans a prepared statement for each run, so a plan made on a young table is not kept as it grows",
    async () => {
      const db = await backend.open();
      await db.query("CREATE TABLE g (id int PRIMARY KEY, label text)");
      const lookup = "SELECT g.id FROM unnest($1::int[]) AS u(id) JOIN g USING (id)";
      const counts = await db.transaction(async (tx) => {
        // Past Postgres's five custom plans, after which it would switch to a generic one; the table grows between runs.
        for (let run = 0; run < 8; run++) {
          await tx.query("INSERT INTO g SELECT n, 'x' FROM generate_series($1::int, $2::int) n", [
            run * 2_000 + 1,
            (run + 1) * 2_000,
          ]);
          const found = await tx.query<{ id: number }>(lookup, [[1, (run + 1) * 2_000]], {
            prepareAs: "test_lookup_g",
          });
          expect(found.rows.map((r) => r.id).sort((a, b) => a - b)).toEqual([1, (run + 1) * 2_000]);
        }
        const mode = await tx.query<{ plan_cache_mode: string }>("SHOW plan_cache_mode");
        const plans = await tx.query<{ generic_plans: number; custom_plans: number }>(
          "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1",
          ["test_lookup_g"],
        );
        return { mode: mode.rows[0]?.plan_cache_mode, ...plans.rows[0] };
      });
      expect(counts).toEqual({ mode: "force_custom_plan", generic_plans: 0, custom_plans: 8 });
    },
  );

  it.runIf(backend.name === "postgres")(
    "never compiles a statement with JIT, however expensive its plan looks",
    async () => {
      const db = await backend.open();
      const plan = await db.transaction(async (tx) => {
        // Every statement is past the threshold now: a connection that allowed JIT would compile this one.
        await tx.query("SET LOCAL jit_above_cost = 0");
        const jit = await tx.query<{ jit: string }>("SHOW jit");
        const explained = await tx.query<{ "QUERY PLAN": unknown }>(
          "EXPLAIN (ANALYZE, FORMAT JSON) SELECT sum(n) FROM generate_series(1, 1000) n",
        );
        return { jit: jit.rows[0]?.jit, compiled: JSON.stringify(explained.rows[0]?.["QUERY PLAN"]).includes('"JIT"') };
      });
      expect(plan).toEqual({ jit: "off", compiled: false });
    },
  );

  it("answers a parameterless script with its last statement's result", async () => {
    const db = await backend.open();
    const r = await db.query("CREATE TABLE s (x int); INSERT INTO s VALUES (1), (2); SELECT count(*) AS c FROM s");
    expect(r.rows).toEqual([{ c: 2 }]);
  });

  it("commits a transaction", async () => {
    const db = await backend.open();
    await db.query("CREATE TABLE t (x int)");
    const out = await db.transaction(async (tx) => {
      await tx.query("INSERT INTO t VALUES ($1)", [1]);
      await tx.query("INSERT INTO t VALUES ($1)", [2]);
      return (await tx.query("SELECT count(*) AS c FROM t")).rows[0];
    });
    expect(out).toEqual({ c: 2 });
    expect((await db.query("SELECT x FROM t ORDER BY x")).rows).toEqual([{ x: 1 }, { x: 2 }]);
  });

  it("rolls a transaction back when its function throws, and rethrows", async () => {
    const db = await backend.open();
    await db.query("CREATE TABLE t (x int)");
    const boom = new Error("boom");
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO t VALUES ($1)", [1]);
        throw boom;
      }),
    ).rejects.toBe(boom);
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO t VALUES ($1)", [2]);
        await tx.query("INSERT INTO missing_table VALUES (1)");
      }),
    ).rejects.toThrow(/missing_table/);
    expect((await db.query("SELECT x FROM t")).rows).toEqual([]);
    // The connection is usable afterwards (not left inside an aborted transaction).
    await db.transaction((tx) => tx.query("INSERT INTO t VALUES (3)"));
    expect((await db.query("SELECT x FROM t")).rows).toEqual([{ x: 3 }]);
  });

  it("keeps a query issued outside an open transaction out of it", async () => {
    const db = await backend.open();
    await db.query("CREATE TABLE t (x int)");
    const events: string[] = [];
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const tx = db.transaction(async (t) => {
      await t.query("INSERT INTO t VALUES (1)");
      entered();
      await new Promise((r) => setTimeout(r, 150));
      events.push("tx rolls back");
      throw new Error("rollback");
    });
    await inside;
    const outside = db.query("INSERT INTO t VALUES (2)").then(() => events.push("outside done"));
    await expect(tx).rejects.toThrow("rollback");
    await outside;
    expect((await db.query("SELECT x FROM t")).rows).toEqual([{ x: 2 }]);
    // PGlite is one backend: the outside query waited for the transaction. Postgres ran it on another connection.
    if (backend.name === "pglite") expect(events).toEqual(["tx rolls back", "outside done"]);
    else expect(events).toEqual(["outside done", "tx rolls back"]);
  });

  it.runIf(backend.name === "postgres")(
    "survives its connections being terminated, idle or inside a transaction",
    async () => {
      const [db, admin] = await backend.openShared(2);
      if (db === undefined || admin === undefined) throw new Error("expected two clients");
      const killOthers =
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";
      await db.query("SELECT 1");
      await admin.query(killOthers);
      // The pool hears about its idle connection's death as an 'error' event, which must not be uncaught.
      await sleep(100);
      expect(await db.ping()).toBe(true);
      // The message depends on whether the FATAL arrives before or after the statement is sent.
      await expect(
        db.transaction(async (tx) => {
          await admin.query(killOthers);
          await tx.query("SELECT 1");
        }),
      ).rejects.toThrow(/terminat|connection error/);
      expect(await db.ping()).toBe(true);
    },
  );

  it("migrates in id order, records each migration, and is idempotent", async () => {
    const db = await backend.open();
    expect(await migrate(db, MIGRATIONS)).toEqual([1, 2, 3]);
    expect(await migrate(db, MIGRATIONS)).toEqual([]);
    const fourth: Migration = { id: 4, name: "widget colour", sql: "ALTER TABLE widgets ADD COLUMN colour text" };
    expect(await migrate(db, [...MIGRATIONS, fourth])).toEqual([4]);
    const { rows } = await db.query<{ id: number; name: string; applied_at: unknown }>(
      "SELECT id, name, applied_at FROM tessera_migrations ORDER BY id",
    );
    expect(rows.map((r) => [r.id, r.name])).toEqual([...MIGRATIONS, fourth].map((m) => [m.id, m.name]));
    expect(rows.every((r) => r.applied_at instanceof Date)).toBe(true);
    expect((await db.query("SELECT name, size FROM widgets")).rows).toEqual([{ name: "seed", size: 1 }]);
  });

  it("applies each migration once when two migrate() calls race", async () => {
    const [a, b] = await backend.openShared(2);
    if (a === undefined || b === undefined) throw new Error("expected two clients");
    const [fromA, fromB] = await Promise.all([migrate(a, MIGRATIONS), migrate(b, MIGRATIONS)]);
    expect([...fromA, ...fromB].sort()).toEqual([1, 2, 3]);
    expect((await a.query("SELECT count(*) AS c FROM widgets")).rows).toEqual([{ c: 1 }]);
    expect((await b.query("SELECT count(*) AS c FROM tessera_migrations")).rows).toEqual([{ c: 3 }]);
  });

  it("rolls back a failing migration with its bookkeeping row, keeping the earlier ones", async () => {
    const db = await backend.open();
    const broken: Migration = {
      id: 4,
      name: "broken",
      sql: "CREATE TABLE half_done (x int); SELECT no_such_function()",
    };
    await expect(migrate(db, [...MIGRATIONS, broken])).rejects.toThrow(/no_such_function/);
    expect((await db.query("SELECT id FROM tessera_migrations ORDER BY id")).rows).toEqual([
      { id: 1 },
      { id: 2 },
      { id: 3 },
    ]);
    expect((await db.query("SELECT to_regclass('half_done') AS t")).rows).toEqual([{ t: null }]);
  });

  it("refuses a database migrated by newer code", async () => {
    const db = await backend.open();
    await migrate(db, MIGRATIONS);
    await expect(migrate(db, MIGRATIONS.slice(0, 1))).rejects.toThrow(
      'the database has migration(s) this code does not know: 2 "widget sizes", 3 "widget index"',
    );
  });

  it("runs beside a newer release whose migrations say they stay compatible, and refuses one that does not", async () => {
    const db = await backend.open();
    // The newer release adds an expand step (compatible with code that knows migration 3) ...
    const expand: Migration = {
      id: 4,
      name: "widget notes",
      sql: "ALTER TABLE widgets ADD COLUMN notes text",
      compatibleWith: 3,
    };
    await migrate(db, [...MIGRATIONS, expand]);
    // ... so this release, which knows 1..3, keeps running on it (a rolling upgrade, or a rollback).
    expect(await migrate(db, MIGRATIONS)).toEqual([]);
    // Code that knows only 1 and 2 is older than what migration 4 stays compatible with.
    await expect(migrate(db, MIGRATIONS.slice(0, 2))).rejects.toThrow(
      'the database has migration(s) this code does not know: 3 "widget index", 4 "widget notes" (runs with code that knows migration 3 or later)',
    );
    // A contract step (no compatibility stated) stops every release that does not know it.
    const contract: Migration = { id: 5, name: "drop widget size", sql: "ALTER TABLE widgets DROP COLUMN size" };
    await migrate(db, [...MIGRATIONS, expand, contract]);
    await expect(migrate(db, [...MIGRATIONS, expand])).rejects.toThrow(
      '5 "drop widget size". It was migrated by a newer version',
    );
  });

  it("refuses migration ids that are not strictly increasing, before touching the database", async () => {
    const db = await backend.open();
    const [first, second] = MIGRATIONS;
    if (first === undefined || second === undefined) throw new Error("expected migrations");
    await expect(migrate(db, [second, first])).rejects.toThrow(/strictly increasing/);
    await expect(migrate(db, [first, { ...second, id: 1 }])).rejects.toThrow(/strictly increasing/);
    expect((await db.query("SELECT to_regclass('tessera_migrations') AS t")).rows).toEqual([{ t: null }]);
  });
});

describe("openSqlClient", () => {
  it("rejects queries against an unreachable Postgres instead of crashing", async () => {
    const db = await openSqlClient({ databaseUrl: `postgres://postgres@127.0.0.1:${await freePort()}/nothing` });
    expect(db.dialect).toBe("postgres");
    await expect(db.query("SELECT 1")).rejects.toThrow(/ECONNREFUSED/);
    await expect(db.transaction((tx) => tx.query("SELECT 1"))).rejects.toThrow(/ECONNREFUSED/);
    expect(await db.ping()).toBe(false);
    await db.close();
  });

  it("persists a PGlite dataDir across close and reopen", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "tessera-pglite-"));
    try {
      const first = await openSqlClient({ dataDir });
      expect(first.dialect).toBe("pglite");
      await migrate(first, MIGRATIONS);
      await first.query("INSERT INTO widgets (name) VALUES ($1)", ["kept"]);
      await first.close();
      const second = await openSqlClient({ dataDir });
      expect(await migrate(second, MIGRATIONS)).toEqual([]);
      expect((await second.query("SELECT name FROM widgets ORDER BY id")).rows).toEqual([
        { name: "seed" },
        { name: "kept" },
      ]);
      await second.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
