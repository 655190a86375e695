import js from "@eslint/js";
import importPlugin from "eslint-plugin-import";
import tseslint from "typescript-eslint";

/**
 * The package layering: which of our packages each package's production code (`src/`) may import. A package
 * missing here may import none of ours. Tests may import more (the testkit, a worker beside a coordinator),
 * but never another package's files by a relative path: only through its public entry.
 */
const LAYERS = {
  contract: [],
  "kube-fake": [],
  egress: ["contract"],
  client: ["contract"],
  bus: ["contract"],
  testkit: ["bus"],
  worker: ["contract", "bus"],
  coordinator: ["contract", "bus", "client", "egress", "connectors"],
  controller: ["contract"],
  connectors: ["contract", "egress"],
  gateway: ["contract", "bus", "client", "egress", "connectors"],
  dashboard: [],
  cli: ["contract", "bus", "client", "coordinator", "worker", "controller", "dashboard", "connectors", "gateway"],
};

/** Packages that talk to third parties: their only way out is `@tessera/egress` (decision 0019). */
const EGRESS_ONLY = ["connectors", "gateway"];
const NETWORK_MODULES = ["http", "https", "http2", "net", "tls", "dgram", "dns"].flatMap((m) => [m, `node:${m}`]);
const NETWORK_PACKAGES = ["undici", "node-fetch", "axios", "got", "ky", "ws", "cross-fetch"];
const NETWORK_GLOBALS = ["fetch", "WebSocket", "XMLHttpRequest", "EventSource"];

const layerRules = Object.entries(LAYERS).map(([pkg, allowed]) => {
  const egressOnly = EGRESS_ONLY.includes(pkg);
  const egressMessage = `${pkg} reaches the network only through @tessera/egress (docs/decisions/0019-egress-guard.md)`;
  return {
    files: [`packages/${pkg}/src/**/*.{ts,tsx}`],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: egressOnly
            ? [...NETWORK_MODULES, ...NETWORK_PACKAGES].map((name) => ({ name, message: egressMessage }))
            : [],
          patterns: [
            {
              group: [
                "@tessera/*",
                `!@tessera/${pkg}`,
                ...allowed.flatMap((a) => [`!@tessera/${a}`, `!@tessera/${a}/*`]),
              ],
              message: `${pkg} may import only ${allowed.length === 0 ? "none of our packages" : allowed.join(", ")} (the layering in eslint.config.js)`,
            },
            { group: ["**/test/**", "**/test"], message: "production code never imports test code" },
          ],
        },
      ],
      ...(egressOnly
        ? { "no-restricted-globals": ["error", ...NETWORK_GLOBALS.map((name) => ({ name, message: egressMessage }))] }
        : {}),
    },
  };
});

export default tseslint.config(
  {
    ignores: [
      "**/dist/**",
      "**/dist-node/**",
      "**/node_modules/**",
      "**/coverage/**",
      "bench/.scratch/**",
      "bench/results/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": "off",
    },
  },
  {
    files: ["**/*.{ts,tsx,js,mjs}"],
    plugins: { import: importPlugin },
    settings: {
      "import/resolver": {
        typescript: { project: "tsconfig.json", conditionNames: ["@tessera/source", "types", "import", "default"] },
      },
    },
    // Another package's files are reached through its public entry, never by a relative path into its folder.
    rules: { "import/no-relative-packages": "error" },
  },
  ...layerRules,
  {
    // The bench's peers are a package only so that the product's lockfile does not carry BullMQ and pg-boss
    // (decision 0013); they are drivers of the bench beside them and use its harness as their own.
    // The test runner's configs at the root read a workspace's source before any package is built.
    files: ["bench/peers/**", "vitest*.config.ts"],
    rules: { "import/no-relative-packages": "off" },
  },
);
