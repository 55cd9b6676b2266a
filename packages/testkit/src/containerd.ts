// A real containerd for tests: the Debian package's binary with a private root, state, socket and
// config; the CRI plugin on with the `native` snapshotter (no overlay mounts needed) and a registry
// `config_path` (the certs.d directory under test). No sandbox or CNI: only the image service is used.
//
// Bookworm ships no crictl (cri-tools), so CRI is driven directly: `runtime.v1.ImageService` over the
// unix socket with @grpc/grpc-js and a minimal proto written from the CRI API (only the messages used).
import { execFile } from 'node:child_process';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { startProcess, tempDir, type Proc, type TempDir } from './process.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);
const CONTAINERD_BIN = process.env.UPLINK_CONTAINERD ?? '/usr/bin/containerd';
const CTR_BIN = process.env.UPLINK_CTR ?? '/usr/bin/ctr';
/** the namespace CRI (and so kubelet, K3s) keeps images in */
export const CRI_NAMESPACE = 'k8s.io';

// From k8s.io/cri-api pkg/apis/runtime/v1/api.proto: only what image pulls need. Field numbers are
// the API's; fields left out are simply never sent (PodSandboxConfig is optional for PullImage).
const CRI_PROTO = `syntax = "proto3";
package runtime.v1;
service ImageService {
  rpc ListImages(ListImagesRequest) returns (ListImagesResponse) {}
  rpc ImageStatus(ImageStatusRequest) returns (ImageStatusResponse) {}
  rpc PullImage(PullImageRequest) returns (PullImageResponse) {}
  rpc RemoveImage(RemoveImageRequest) returns (RemoveImageResponse) {}
}
service RuntimeService {
  rpc Version(VersionRequest) returns (VersionResponse) {}
}
message VersionRequest { string version = 1; }
message VersionResponse { string version = 1; string runtime_name = 2; string runtime_version = 3; string runtime_api_version = 4; }
message ImageSpec { string image = 1; map<string, string> annotations = 2; }
message AuthConfig { string username = 1; string password = 2; string auth = 3; string server_address = 4; string identity_token = 5; string registry_token = 6; }
message Int64Value { int64 value = 1; }
message Image { string id = 1; repeated string repo_tags = 2; repeated string repo_digests = 3; uint64 size = 4; Int64Value uid = 5; string username = 6; ImageSpec spec = 7; bool pinned = 8; }
message ImageFilter { ImageSpec image = 1; }
message ListImagesRequest { ImageFilter filter = 1; }
message ListImagesResponse { repeated Image images = 1; }
message ImageStatusRequest { ImageSpec image = 1; bool verbose = 2; }
message ImageStatusResponse { Image image = 1; map<string, string> info = 2; }
message PullImageRequest { ImageSpec image = 1; AuthConfig auth = 2; }
message PullImageResponse { string image_ref = 1; }
message RemoveImageRequest { ImageSpec image = 1; }
message RemoveImageResponse {}
`;

export interface ContainerdOptions {
  /** where root, state, socket and config go; kept after stop @default a temp dir removed on dispose */
  dir?: string;
  /** the certs.d directory (`hosts.toml` per registry host) the CRI plugin resolves registries with */
  configPath: string;
  /** @default 'info' */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export interface CriImage {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
}

export interface CriImageService {
  /** CRI PullImage: resolves through the CRI plugin's registry config (hosts.toml); returns the image ref (config digest) */
  pullImage(image: string, auth?: { username: string; password: string }): Promise<string>;
  /** null when the image is not there */
  imageStatus(image: string): Promise<CriImage | null>;
  listImages(): Promise<CriImage[]>;
  removeImage(image: string): Promise<void>;
  /** the runtime's name and version, e.g. `containerd 1.6.20~ds1` */
  version(): Promise<string>;
}

export interface Containerd extends AsyncDisposable {
  dir: string;
  /** the gRPC unix socket */
  socket: string;
  cri: CriImageService;
  /** `ctr --address <socket> --namespace k8s.io <args>` */
  ctr(args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** the last lines containerd logged */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Why containerd cannot run here, or undefined when it can: the binary is installed (as root it is
 * installed with apt when missing) and this process may run it.
 */
export async function containerdUnavailable(): Promise<string | undefined> {
  const present = async () => access(CONTAINERD_BIN).then(() => true, () => false);
  if (!(await present()) && process.getuid?.() === 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () => run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'containerd'], { env });
    // a fresh machine may have no package lists yet
    await install().catch(async () => {
      await run('apt-get', ['update', '-qq'], { env }).catch(() => undefined);
      await install().catch(() => undefined);
    });
  }
  if (!(await present())) return `${CONTAINERD_BIN} is not installed (Debian package "containerd"; install it as root)`;
  if (process.getuid?.() !== 0) return 'containerd needs root (it mounts and chowns snapshots)';
  return undefined;
}

export async function startContainerd(opts: ContainerdOptions): Promise<Containerd> {
  const why = await containerdUnavailable();
  if (why) throw new Error(`cannot start containerd: ${why}`);
  const owned: TempDir | undefined = opts.dir ? undefined : await tempDir('uplink-containerd-');
  const dir = opts.dir ?? owned!.path;
  await mkdir(dir, { recursive: true });
  const socket = join(dir, 'containerd.sock');
  if (socket.length > 100) throw new Error(`containerd socket path ${socket} is too long for a unix socket; use a shorter dir`);
  const config = join(dir, 'config.toml');
  const q = JSON.stringify;
  await mkdir(join(dir, 'cni', 'bin'), { recursive: true });
  await mkdir(join(dir, 'cni', 'conf'), { recursive: true });
  await writeFile(
    config,
    [
      'version = 2',
      `root = ${q(join(dir, 'root'))}`,
      `state = ${q(join(dir, 'state'))}`,
      // snapshotters that need kernel features or host packages stay off
      'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.opt", "io.containerd.tracing.processor.v1.otlp"]',
      '[grpc]',
      `  address = ${q(socket)}`,
      '[ttrpc]',
      `  address = ${q(`${socket}.ttrpc`)}`,
      '[debug]',
      '  address = ""',
      `  level = ${q(opts.logLevel ?? 'info')}`,
      '[metrics]',
      '  address = ""',
      '[plugins."io.containerd.grpc.v1.cri"]',
      '  disable_tcp_service = true',
      '  disable_apparmor = true',
      '  disable_cgroup = true',
      '  restrict_oom_score_adj = true',
      '  [plugins."io.containerd.grpc.v1.cri".containerd]',
      '    snapshotter = "native"',
      '  [plugins."io.containerd.grpc.v1.cri".cni]',
      `    bin_dir = ${q(join(dir, 'cni', 'bin'))}`,
      `    conf_dir = ${q(join(dir, 'cni', 'conf'))}`,
      '  [plugins."io.containerd.grpc.v1.cri".registry]',
      `    config_path = ${q(opts.configPath)}`,
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'cri-api.proto'), CRI_PROTO);
  const def = await protoLoader.load(join(dir, 'cri-api.proto'), { keepCase: false, longs: Number, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    runtime: { v1: { ImageService: grpc.ServiceClientConstructor; RuntimeService: grpc.ServiceClientConstructor } };
  };
  const target = `unix://${socket}`;
  const images = new pkg.runtime.v1.ImageService(target, grpc.credentials.createInsecure());
  const runtime = new pkg.runtime.v1.RuntimeService(target, grpc.credentials.createInsecure());
  const call = <T>(client: grpc.Client, method: string, req: object, timeoutMs = 60_000): Promise<T> =>
    new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, (r: object, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: T) => void) => void>)[method]!;
      fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, value) => (err ? reject(new Error(`CRI ${method}: ${err.details || err.message}`, { cause: err })) : resolve(value)));
    });
  const toImage = (i: { id: string; repoTags: string[]; repoDigests: string[]; size: number }): CriImage => ({ id: i.id, repoTags: i.repoTags, repoDigests: i.repoDigests, size: Number(i.size) });

  const proc: Proc = startProcess(CONTAINERD_BIN, ['--config', config]);
  const stop = async () => {
    images.close();
    runtime.close();
    await proc.stop();
  };
  try {
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`containerd exited with ${proc.child.exitCode}`);
        return call(runtime, 'Version', {}, 2_000).then(() => true, () => false);
      },
      { what: 'containerd CRI on its socket', timeoutMs: 20_000, intervalMs: 50 },
    );
  } catch (err) {
    await stop();
    await owned?.[Symbol.asyncDispose]();
    throw new Error(`containerd did not start: ${(err as Error).message}\n${proc.output()}`, { cause: err });
  }

  const cri: CriImageService = {
    async pullImage(image, auth) {
      const r = await call<{ imageRef: string }>(images, 'PullImage', { image: { image }, ...(auth ? { auth } : {}) }, 120_000);
      return r.imageRef;
    },
    async imageStatus(image) {
      const r = await call<{ image: Parameters<typeof toImage>[0] | null }>(images, 'ImageStatus', { image: { image } });
      return r.image ? toImage(r.image) : null;
    },
    async listImages() {
      const r = await call<{ images: Parameters<typeof toImage>[0][] }>(images, 'ListImages', {});
      return r.images.map(toImage);
    },
    async removeImage(image) {
      await call(images, 'RemoveImage', { image: { image } });
    },
    async version() {
      const r = await call<{ runtimeName: string; runtimeVersion: string }>(runtime, 'Version', {});
      return `${r.runtimeName} ${r.runtimeVersion}`;
    },
  };

  return {
    dir,
    socket,
    cri,
    async ctr(args) {
      try {
        return await run(CTR_BIN, ['--address', socket, '--namespace', CRI_NAMESPACE, ...args], { maxBuffer: 16 * 1024 * 1024 });
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`ctr ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
      }
    },
    output: () => proc.output(),
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
      await owned?.[Symbol.asyncDispose]();
    },
  };
}
