// Errors of the satellite that a user can act on; match on `code`.

export const SatelliteErrorCode = {
  /** DATA_DIR holds the applied state of another satellite */
  DATA_DIR_FOREIGN: 'DATA_DIR_FOREIGN',
  /** the applied-state file cannot be read or parsed */
  STATE_UNREADABLE: 'STATE_UNREADABLE',
  /** REGISTRY_CREDENTIALS is not the expected JSON */
  CREDENTIALS_INVALID: 'CREDENTIALS_INVALID',
  /** an artifact names a registry the desired state does not list */
  REGISTRY_UNKNOWN: 'REGISTRY_UNKNOWN',
  /** the local registry cannot listen on REGISTRY_HOST:REGISTRY_PORT */
  REGISTRY_LISTEN_FAILED: 'REGISTRY_LISTEN_FAILED',
} as const;
export type SatelliteErrorCode = (typeof SatelliteErrorCode)[keyof typeof SatelliteErrorCode];

export class SatelliteError extends Error {
  override name = 'SatelliteError';
  readonly code: SatelliteErrorCode;
  readonly satellite: string | undefined;
  constructor(code: SatelliteErrorCode, message: string, opts: { cause?: unknown; satellite?: string } = {}) {
    super(message, { cause: opts.cause });
    this.code = code;
    this.satellite = opts.satellite;
  }
}
