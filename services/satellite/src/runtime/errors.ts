// Errors of the runtime integration (mirror config, direct delivery); match on `code`.

export const RuntimeErrorCode = {
  /** the `--mirrors` / MIRRORS spec cannot be parsed */
  MIRROR_SPEC_INVALID: 'MIRROR_SPEC_INVALID',
  /** an existing runtime config file cannot be parsed, so it is left alone */
  RUNTIME_CONFIG_INVALID: 'RUNTIME_CONFIG_INVALID',
  /** an existing runtime config contradicts what would be written (e.g. containerd `mirrors` beside `config_path`) */
  RUNTIME_CONFIG_CONFLICT: 'RUNTIME_CONFIG_CONFLICT',
  /** a file could not be written; every file of that apply was rolled back */
  RUNTIME_CONFIG_WRITE_FAILED: 'RUNTIME_CONFIG_WRITE_FAILED',
  /** an image to deliver is not (completely) in the local store */
  DELIVERY_CONTENT_MISSING: 'DELIVERY_CONTENT_MISSING',
  /** a delivery tarball could not be written */
  DELIVERY_WRITE_FAILED: 'DELIVERY_WRITE_FAILED',
} as const;
export type RuntimeErrorCode = (typeof RuntimeErrorCode)[keyof typeof RuntimeErrorCode];

export class RuntimeError extends Error {
  override name = 'RuntimeError';
  readonly code: RuntimeErrorCode;
  /** the file concerned, when there is one */
  readonly path: string | undefined;
  constructor(code: RuntimeErrorCode, message: string, opts: { cause?: unknown; path?: string } = {}) {
    super(message, { cause: opts.cause });
    this.code = code;
    this.path = opts.path;
  }
}
