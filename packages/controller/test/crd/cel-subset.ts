/**
 * A test-only interpreter for the small part of CEL the Component CRD's rules use, so those rules can be run
 * against the same specs as the contract's componentSpecRuleIssues without an API server. It follows CEL where
 * the rules depend on it: a missing field is an error (so unguarded access fails the test), `has()` and
 * `.all()` are macros, `&&`/`||` short-circuit, and the Kubernetes IP/CIDR library parses like Go's
 * netip (no leading zeros, no zones, no IPv4-mapped IPv6). It is not a CEL implementation.
 */
import { BlockList, isIP } from "node:net";

type Node =
  | { k: "lit"; v: unknown }
  | { k: "id"; name: string }
  | { k: "sel"; target: Node; field: string }
  | { k: "call"; fn: string; target?: Node; args: Node[] }
  | { k: "un"; op: "!" | "-"; arg: Node }
  | { k: "bin"; op: string; l: Node; r: Node }
  | { k: "cond"; test: Node; then: Node; else: Node };

const TOKEN =
  /\s*(?:(\d+)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([A-Za-z_][A-Za-z0-9_]*)|(&&|\|\||==|!=|<=|>=|[<>!?:().,-]))/y;

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
    const start = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (m === null) throw new SyntaxError(`unexpected character at ${start} in ${text}`);
    if (m[1] !== undefined) tokens.push(`#${m[1]}`);
    else if (m[2] !== undefined) tokens.push(`'${m[2].replace(/\\(.)/g, "$1")}`);
    else if (m[3] !== undefined) tokens.push(`'${m[3].replace(/\\(.)/g, "$1")}`);
    else tokens.push((m[4] ?? m[5]) as string);
  }
  return tokens;
}

export function parseCel(text: string): Node {
  const tokens = tokenize(text);
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const take = (expected?: string): string => {
    const t = tokens[i++];
    if (t === undefined || (expected !== undefined && t !== expected))
      throw new SyntaxError(`expected ${expected ?? "a token"}, got ${t ?? "the end"} in ${text}`);
    return t;
  };
  const args = (): Node[] => {
    take("(");
    const out: Node[] = [];
    if (peek() !== ")") {
      out.push(expr());
      while (peek() === ",") {
        take(",");
        out.push(expr());
      }
    }
    take(")");
    return out;
  };
  const primary = (): Node => {
    const t = take();
    if (t.startsWith("#")) return { k: "lit", v: Number(t.slice(1)) };
    if (t.startsWith("'")) return { k: "lit", v: t.slice(1) };
    if (t === "(") {
      const e = expr();
      take(")");
      return e;
    }
    if (t === "true" || t === "false") return { k: "lit", v: t === "true" };
    if (!/^[A-Za-z_]/.test(t)) throw new SyntaxError(`unexpected ${t} in ${text}`);
    return peek() === "(" ? { k: "call", fn: t, args: args() } : { k: "id", name: t };
  };
  const postfix = (): Node => {
    let n = primary();
    while (peek() === ".") {
      take(".");
      const name = take();
      n = peek() === "(" ? { k: "call", fn: name, target: n, args: args() } : { k: "sel", target: n, field: name };
    }
    return n;
  };
  const unary = (): Node =>
    peek() === "!" || peek() === "-" ? { k: "un", op: take() as "!" | "-", arg: unary() } : postfix();
  const rel = (): Node => {
    const l = unary();
    const op = peek();
    return op !== undefined && ["==", "!=", "<=", ">=", "<", ">"].includes(op)
      ? (take(), { k: "bin", op, l, r: unary() })
      : l;
  };
  const chain = (op: string, next: () => Node) => (): Node => {
    let l = next();
    while (peek() === op) {
      take();
      l = { k: "bin", op, l, r: next() };
    }
    return l;
  };
  const and = chain("&&", rel);
  const or = chain("||", and);
  function expr(): Node {
    const test = or();
    if (peek() !== "?") return test;
    take("?");
    const then = expr();
    take(":");
    return { k: "cond", test, then, else: expr() };
  }
  const result = expr();
  if (i !== tokens.length) throw new SyntaxError(`trailing ${tokens[i]} in ${text}`);
  return result;
}

class Cidr {
  constructor(
    readonly addr: string,
    readonly bits: number,
    readonly family: "ipv4" | "ipv6",
  ) {}
}
class Ip {
  constructor(
    readonly addr: string,
    readonly family: "ipv4" | "ipv6",
  ) {}
}

function parseIp(text: string): Ip | undefined {
  if (text.includes("%") || /^::ffff:\d/i.test(text)) return undefined;
  const family = isIP(text);
  if (family === 4 && text.split(".").some((part) => part.length > 1 && part.startsWith("0"))) return undefined;
  return family === 4 ? new Ip(text, "ipv4") : family === 6 ? new Ip(text, "ipv6") : undefined;
}
function parseCidr(text: string): Cidr | undefined {
  const [addr, bits, extra] = text.split("/");
  if (addr === undefined || bits === undefined || extra !== undefined || !/^(0|[1-9]\d*)$/.test(bits)) return undefined;
  const ip = parseIp(addr);
  const n = Number(bits);
  if (ip === undefined || n > (ip.family === "ipv4" ? 32 : 128)) return undefined;
  return new Cidr(ip.addr, n, ip.family);
}

class CelError extends Error {}

function evaluate(n: Node, env: Record<string, unknown>): unknown {
  switch (n.k) {
    case "lit":
      return n.v;
    case "id":
      if (!(n.name in env)) throw new CelError(`undeclared reference ${n.name}`);
      return env[n.name];
    case "sel": {
      const target = evaluate(n.target, env);
      if (typeof target !== "object" || target === null || !(n.field in target))
        throw new CelError(`no such key: ${n.field}`);
      return (target as Record<string, unknown>)[n.field];
    }
    case "un": {
      const v = evaluate(n.arg, env);
      if (n.op === "!") return !bool(v);
      return -(v as number);
    }
    case "cond":
      return bool(evaluate(n.test, env)) ? evaluate(n.then, env) : evaluate(n.else, env);
    case "bin": {
      if (n.op === "&&") return bool(evaluate(n.l, env)) && bool(evaluate(n.r, env));
      if (n.op === "||") return bool(evaluate(n.l, env)) || bool(evaluate(n.r, env));
      const l = evaluate(n.l, env);
      const r = evaluate(n.r, env);
      switch (n.op) {
        case "==":
          return l === r;
        case "!=":
          return l !== r;
        case "<=":
          return (l as number) <= (r as number);
        case ">=":
          return (l as number) >= (r as number);
        case "<":
          return (l as number) < (r as number);
        default:
          return (l as number) > (r as number);
      }
    }
    case "call":
      return call(n, env);
  }
}

function bool(v: unknown): boolean {
  if (typeof v !== "boolean") throw new CelError(`expected bool, got ${JSON.stringify(v)}`);
  return v;
}
function str(v: unknown): string {
  if (typeof v !== "string") throw new CelError(`expected string, got ${JSON.stringify(v)}`);
  return v;
}

function call(n: Extract<Node, { k: "call" }>, env: Record<string, unknown>): unknown {
  if (n.fn === "has" && n.target === undefined) {
    const arg = n.args[0];
    if (n.args.length !== 1 || arg?.k !== "sel") throw new CelError("has() takes one field selection");
    const target = evaluate(arg.target, env);
    return typeof target === "object" && target !== null && arg.field in target;
  }
  if (n.fn === "all" && n.target !== undefined) {
    const [v, body] = n.args;
    if (v?.k !== "id" || body === undefined) throw new CelError("all(x, expr)");
    const list = evaluate(n.target, env);
    if (!Array.isArray(list)) throw new CelError("all() on a non-list");
    return list.every((item) => bool(evaluate(body, { ...env, [v.name]: item })));
  }
  const target = n.target === undefined ? undefined : evaluate(n.target, env);
  const args = n.args.map((a) => evaluate(a, env));
  switch (n.fn) {
    case "size":
      return Array.isArray(args[0]) || typeof args[0] === "string"
        ? args[0].length
        : Object.keys(args[0] as object).length;
    case "isCIDR":
      return parseCidr(str(args[0])) !== undefined;
    case "cidr": {
      const c = parseCidr(str(args[0]));
      if (c === undefined) throw new CelError(`network address parse error: ${String(args[0])}`);
      return c;
    }
    case "ip": {
      const ip = parseIp(str(args[0]));
      if (ip === undefined) throw new CelError(`IP address parse error: ${String(args[0])}`);
      return ip;
    }
    case "prefixLength":
      if (!(target instanceof Cidr)) throw new CelError("prefixLength() on a non-CIDR");
      return target.bits;
    case "containsIP": {
      const ip = args[0];
      if (!(target instanceof Cidr) || !(ip instanceof Ip)) throw new CelError("containsIP() needs a CIDR and an IP");
      if (target.family !== ip.family) return false;
      const block = new BlockList();
      block.addSubnet(target.addr, target.bits, target.family);
      return block.check(ip.addr, ip.family);
    }
    case "matches":
      return new RegExp(str(args[0])).test(str(target));
    default:
      throw new CelError(`unknown function ${n.fn}`);
  }
}

/** Evaluates a rule with `self` bound; a CEL runtime error is returned as `{ error }`, as the API server reports it. */
export function evaluateCel(rule: string, self: unknown): boolean | { error: string } {
  try {
    return bool(evaluate(parseCel(rule), { self }));
  } catch (err) {
    if (err instanceof CelError) return { error: err.message };
    throw err;
  }
}

/** The functions and macros the subset knows. */
export const CEL_SUBSET_FUNCTIONS = [
  "has",
  "all",
  "size",
  "isCIDR",
  "cidr",
  "ip",
  "prefixLength",
  "containsIP",
  "matches",
] as const;

/** Every `self.a.b…` field path a rule reads (without the `self.` prefix). */
export function selfPaths(rule: string): string[] {
  const out = new Set<string>();
  const walk = (n: Node): string | undefined => {
    switch (n.k) {
      case "id":
        return n.name === "self" ? "" : undefined;
      case "sel": {
        const base = walk(n.target);
        if (base === undefined) return undefined;
        const path = base === "" ? n.field : `${base}.${n.field}`;
        out.add(path);
        return path;
      }
      case "call":
        if (n.target !== undefined) walk(n.target);
        n.args.forEach(walk);
        return undefined;
      case "un":
        walk(n.arg);
        return undefined;
      case "bin":
        walk(n.l);
        walk(n.r);
        return undefined;
      case "cond":
        walk(n.test);
        walk(n.then);
        walk(n.else);
        return undefined;
      default:
        return undefined;
    }
  };
  walk(parseCel(rule));
  return [...out];
}

/** Every function called in a rule. */
export function calledFunctions(rule: string): string[] {
  const out = new Set<string>();
  const walk = (n: Node): void => {
    if (n.k === "call") {
      out.add(n.fn);
      if (n.target !== undefined) walk(n.target);
      n.args.forEach(walk);
    } else if (n.k === "sel") walk(n.target);
    else if (n.k === "un") walk(n.arg);
    else if (n.k === "bin") {
      walk(n.l);
      walk(n.r);
    } else if (n.k === "cond") {
      walk(n.test);
      walk(n.then);
      walk(n.else);
    }
  };
  walk(parseCel(rule));
  return [...out];
}
