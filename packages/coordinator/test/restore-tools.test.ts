import { describe, expect, it } from "vitest";
import { redactUrl, toolConnection } from "../src/restore/pg-tools.js";

describe("the PostgreSQL tools' connection", () => {
  it("hands the password over in PGPASSWORD, never on the command line or in a message", () => {
    const { dbname, env } = toolConnection("postgres://tessera:s%40cret@db.internal:5432/jobs?sslmode=require");
    expect(dbname).toBe("postgres://tessera@db.internal:5432/jobs?sslmode=require");
    expect(env["PGPASSWORD"]).toBe("s@cret");
    expect(redactUrl("postgres://tessera:s%40cret@db.internal/jobs")).toBe("postgres://tessera:***@db.internal/jobs");
  });

  it("passes a URL without a password, and a key=value string, as they are", () => {
    expect(toolConnection("postgres://postgres@127.0.0.1:5433/x").dbname).toBe("postgres://postgres@127.0.0.1:5433/x");
    expect(toolConnection("host=/run/pg dbname=x").dbname).toBe("host=/run/pg dbname=x");
    expect(toolConnection("host=/run/pg dbname=x").env["PGPASSWORD"]).toBe(process.env["PGPASSWORD"]);
  });
});
