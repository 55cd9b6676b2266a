// The `uplink` command.
import { Command, CommanderError } from 'commander';
import { ConfigError } from '@uplink/contracts';
import { CliError } from './errors.js';
import { groupCommand } from './commands/group.js';
import { satCommand } from './commands/sat.js';
import { devCommand } from './commands/dev.js';
import { edgeCommand } from './commands/edge.js';
import { natsInitCommand } from './commands/nats-init.js';
import { cmdCommand } from './commands/cmd.js';
import { telemetryCommand } from './commands/telemetry.js';
import { imagesCommand } from './commands/images.js';
import { satStatusCommand } from './commands/sat-status.js';
import { loginCommand } from './commands/login.js';
import { userCommand } from './commands/user.js';
import { tokenCommand } from './commands/token.js';
import { auditCommand } from './commands/audit.js';
import type { TargetFlags } from './api.js';

const program = new Command('uplink')
  .description('container images, desired state and commands for fleets of edge sites')
  .option('--gateway <url>', 'gateway URL (default: UPLINK_GATEWAY, then dev.json)')
  .option('--token <token>', 'API token (default: UPLINK_TOKEN, then the stored `uplink login`, then dev.json)')
  .option('--data <dir>', 'data directory of `uplink dev` (where it keeps its state and dev.json)', undefined)
  .showHelpAfterError()
  .exitOverride();

const flags = () => program.opts<TargetFlags>();
devCommand(program);
edgeCommand(program);
natsInitCommand(program);
groupCommand(program, flags);
satCommand(program, flags);
cmdCommand(program, flags);
telemetryCommand(program, flags);
imagesCommand(program, flags);
satStatusCommand(program, flags);
loginCommand(program, flags);
userCommand(program, flags);
tokenCommand(program, flags);
auditCommand(program, flags);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof CliError || err instanceof ConfigError) {
    process.stderr.write(`uplink: ${err.message}\n`);
    process.exit(err instanceof CliError ? err.exitCode : 1);
  }
  process.stderr.write(`uplink: unexpected error: ${(err as Error).message}\n`);
  process.exit(1);
}
