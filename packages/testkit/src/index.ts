export { waitFor } from './wait.js';
export { startProcess, freePort, waitForPort, tempDir } from './process.js';
export { startHub, startLeaf, leafConnected } from './nats.js';
export { startLinkProxy } from './proxy.js';
export { createPgSchema, baseDatabaseUrl, withSearchPath } from './pg.js';

export type { WaitOptions } from './wait.js';
export type { Proc, TempDir } from './process.js';
export type { NatsServer, Hub, HubOptions, HubOperatorMode, LeafOptions } from './nats.js';
export type { LinkProxy } from './proxy.js';
export type { PgSchema } from './pg.js';
export { startUpstreamRegistry } from './registry.js';
export type { UpstreamRegistry, UpstreamRegistryOptions, RegistryAuth, TokenService } from './registry.js';
export { pushTestImage, pushTestIndex } from './images.js';
export type { TestImage, TestImageOptions, TestIndex, TestIndexOptions, ImageFormat, RegistryTarget } from './images.js';
export { startContainerd, containerdUnavailable, CRI_NAMESPACE } from './containerd.js';
export type { Containerd, ContainerdOptions, CriImage, CriImageService } from './containerd.js';
export { startFakeHarbor } from './harbor.js';
export type { FakeHarbor, FakeHarborRobot } from './harbor.js';
