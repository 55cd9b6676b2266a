// `uplink edge`: run a site on this machine: register with a one-time join token (first start only),
// then the leaf nats-server, satellite, forwarder and executor, renewing credentials before expiry.
import type { Command } from 'commander';
import { createLogger } from '@uplink/observability';
import { CliError } from '../errors.js';
import { startEdge } from '../edge/edge.js';

interface EdgeFlags {
  token?: string;
  groundControl?: string;
  data: string;
  runtimeDir?: string;
  leafPort: string;
  leafMonitorPort: string;
  registryPort: string;
  statusPort: string;
  forwarderPort: string;
  runtimeRoot: string;
  mirrors?: string;
  logLevel: string;
}

const port = (v: string, flag: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new CliError(`${flag} must be a port number`);
  return n;
};

export function edgeCommand(program: Command): void {
  program
    .command('edge')
    .description('run this edge site: register with a join token on first start, then the leaf nats-server, satellite, forwarder and executor')
    .option('--token <token>', 'one-time join token (first start, or to register this machine again)')
    .option('--ground-control <url>', 'ground control (gateway) URL, e.g. https://uplink.example.com')
    .option('--runtime-dir <dir>', 'tmpfs directory for the decrypted leaf credentials (default $XDG_RUNTIME_DIR/uplink, /run/uplink)')
    .option('--leaf-port <port>', 'client port of the leaf nats-server', '4222')
    .option('--leaf-monitor-port <port>', 'monitoring port of the leaf nats-server', '8222')
    .option('--registry-port <port>', 'port of the local OCI registry', '5050')
    .option('--status-port <port>', 'port of the satellite status API', '5051')
    .option('--forwarder-port <port>', 'port of the forwarder status API', '5052')
    .option('--runtime-root <dir>', 'root under which runtime mirror config is written', '/')
    .option('--mirrors <list>', 'runtimes whose mirror config the satellite writes (containerd,k3s,…)')
    .option('--log-level <level>', 'log level', 'info')
    // --data (the program's global option) is the site's data directory, default /var/lib/uplink
    .action(async (o: Omit<EdgeFlags, 'data'>) => {
      const global = program.opts<{ data?: string; token?: string }>();
      const data = global.data ?? '/var/lib/uplink';
      // --token is also the program's global option (an API token elsewhere): here it is the join token
      const token = o.token ?? global.token;
      const log = createLogger({ service: 'edge', level: o.logLevel as 'info' });
      const edge = await startEdge({
        logger: log,
        dataDir: data,
        ...(token ? { token } : {}),
        ...(o.groundControl ? { groundControl: o.groundControl } : {}),
        ...(o.runtimeDir ? { runtimeDir: o.runtimeDir } : {}),
        ports: {
          leaf: port(o.leafPort, '--leaf-port'),
          leafMonitor: port(o.leafMonitorPort, '--leaf-monitor-port'),
          registry: port(o.registryPort, '--registry-port'),
          status: port(o.statusPort, '--status-port'),
          forwarder: port(o.forwarderPort, '--forwarder-port'),
        },
        runtimeRoot: o.runtimeRoot,
        ...(o.mirrors ? { mirrors: o.mirrors } : {}),
        logLevel: o.logLevel,
      });
      process.stdout.write(`uplink edge ready: ${edge.satellite} (leaf ${edge.leaf.url})\n`);
      await new Promise<void>((resolve) => {
        const stop = () => void edge.close().then(resolve, resolve);
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      // everything is stopped: do not wait for stray handles (a library timer) to let go
      process.exit(0);
    });
}
