import { Command } from "commander";
import type { CliIo } from "./cli-io.js";
import { registerBackupCommands } from "./commands/backup.js";
import { registerCanaryCommands } from "./commands/canary.js";
import { registerComponentsCommand } from "./commands/components.js";
import { registerConfigCommand } from "./commands/config.js";
import { registerConnectionsCommands } from "./commands/connections.js";
import { registerControllerCommand } from "./commands/controller.js";
import { registerDevCommand } from "./commands/dev.js";
import { registerDeployCommand } from "./commands/deploy.js";
import { registerDlqCommands } from "./commands/dlq.js";
import { registerGatewayCommands } from "./commands/gateway.js";
import { registerJobsCommands } from "./commands/jobs.js";
import { registerListCommand } from "./commands/list.js";
import { registerRenderCommand } from "./commands/render.js";
import { registerRollbackCommand } from "./commands/rollback.js";
import { registerSecretsCommands } from "./commands/secrets.js";
import { registerValidateCommand } from "./commands/validate.js";
import { registerVersionsCommand } from "./commands/versions.js";
import { registerVaultCommands } from "./commands/vault.js";
import { registerWorkerCommand } from "./commands/worker.js";

/**
 * The whole `tessera` command tree, writing only to `io`. Commander errors are thrown (exitOverride)
 * instead of exiting, so `runCli` maps them to exit codes and tests can run commands in-process.
 */
export function buildProgram(io: CliIo): Command {
  const program = new Command("tessera")
    .description("Run, inspect and operate Tessera components and their jobs.")
    .exitOverride()
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) })
    .showHelpAfterError("(add --help for usage and examples)")
    .addHelpText(
      "after",
      `
Commands that talk to the coordinator take --url (or TESSERA_URL; default http://127.0.0.1:7400, where
\`tessera dev\` serves) and --json for scripts.

Exit codes: 0 ok, 1 the operation failed (a job failed, validation found problems), 2 usage error,
3 cannot reach the coordinator, 4 not found, 5 conflict (already finished, not dead-lettered), 6 locked (another
deploy holds the component's deploy lock).

Examples:
  $ tessera validate components/*.yaml
  $ tessera jobs submit word-count --text "hello world" --wait
  $ tessera jobs list --state failed
  $ tessera components`,
    );

  // Command registration: one module per command group in commands/, each `(program, io) => void`.
  registerDevCommand(program, io);
  registerValidateCommand(program, io);
  registerJobsCommands(program, io);
  registerDlqCommands(program, io);
  registerComponentsCommand(program, io);
  registerConfigCommand(program, io);
  registerRenderCommand(program, io);
  registerControllerCommand(program, io);
  registerDeployCommand(program, io);
  registerListCommand(program, io);
  registerVersionsCommand(program, io);
  registerRollbackCommand(program, io);
  registerCanaryCommands(program, io);
  registerWorkerCommand(program, io);
  registerBackupCommands(program, io);
  registerVaultCommands(program, io);
  registerConnectionsCommands(program, io);
  registerGatewayCommands(program, io);
  registerSecretsCommands(program, io);

  return program;
}
