// What the agent's /status answers (ARCHITECTURE §7); served with /healthz and /metrics on
// STATUS_HOST:STATUS_PORT by the observability package's status server.
import type { AppliedState } from '@uplink/contracts';
import type { PullThroughStats } from '@uplink/oci';
import type { SyncWindowStatus } from './replicator.js';
import type { RuntimeStatus } from './runtime-config.js';

export interface SatelliteStatus {
  satellite: string;
  applied: AppliedState | null;
  /** the latest desired state seen */
  desired: { revision: number; digest: string } | null;
  link: { connected: boolean; lastContactAt: string | null };
  /** the latest applied revisions, oldest first (at most 50) */
  history: { revision: number; at: string }[];
  /** the local OCI registry */
  registry: { url: string; port: number };
  /** replication as a whole: idle | syncing | waiting | synced | degraded | failed, counts, bytes fetched since start */
  sync: {
    status: string;
    ready: number;
    total: number;
    failed: number;
    lastSyncAt: string | null;
    bytesTotal: number;
    /** revision whose artifacts are being kept in sync */
    revision: number | null;
    /** sync events waiting to be stored in OUTBOX */
    eventsQueued: number;
    /** the state's sync windows: open now or not, `nextWindowAt` while closed, how many artifacts wait */
    window: SyncWindowStatus;
  };
  artifacts: { repository: string; digest: string; tags?: string[]; status: string; error?: string; nextRetryAt?: string }[];
  /** runtime mirror config and direct delivery: runtimes configured, files, tarballs, errors */
  runtime: RuntimeStatus;
  /** pull-through counters since start (absent when PULL_THROUGH_ALLOW is empty) */
  pullThrough?: PullThroughStats;
}
