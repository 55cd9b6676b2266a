// Manifest media types and a tolerant parser: the four common manifest kinds reduced to what
// replication, GC and the referrers API need (children, blobs, subject).
import { z } from 'zod';
import { OciError } from './errors.js';

export const MediaType = {
  OCI_MANIFEST: 'application/vnd.oci.image.manifest.v1+json',
  OCI_INDEX: 'application/vnd.oci.image.index.v1+json',
  DOCKER_MANIFEST: 'application/vnd.docker.distribution.manifest.v2+json',
  DOCKER_MANIFEST_LIST: 'application/vnd.docker.distribution.manifest.list.v2+json',
  OCI_CONFIG: 'application/vnd.oci.image.config.v1+json',
  OCI_EMPTY: 'application/vnd.oci.empty.v1+json',
} as const;

export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MediaType.OCI_MANIFEST,
  MediaType.OCI_INDEX,
  MediaType.DOCKER_MANIFEST,
  MediaType.DOCKER_MANIFEST_LIST,
];

/** Accept header that asks for every manifest kind we understand. */
export const MANIFEST_ACCEPT = MANIFEST_MEDIA_TYPES.join(', ');

export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MediaType.OCI_INDEX || mediaType === MediaType.DOCKER_MANIFEST_LIST;
}

const PlatformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  variant: z.string().optional(),
});

const DescriptorSchema = z.looseObject({
  mediaType: z.string(),
  digest: z.string().regex(/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/),
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  artifactType: z.string().optional(),
  platform: PlatformSchema.optional(),
});

const ManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: DescriptorSchema.optional(),
  layers: z.array(DescriptorSchema).optional(),
  manifests: z.array(DescriptorSchema).optional(),
  subject: DescriptorSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export type Descriptor = z.infer<typeof DescriptorSchema>;
export type Platform = z.infer<typeof PlatformSchema>;

export interface ParsedManifest {
  mediaType: string;
  /** an index or manifest list: its children are manifests */
  isIndex: boolean;
  artifactType: string | undefined;
  config: Descriptor | undefined;
  layers: Descriptor[];
  manifests: Descriptor[];
  subject: Descriptor | undefined;
  annotations: Record<string, string> | undefined;
}

/**
 * Parse manifest bytes. `mediaType` is the Content-Type the bytes came with; when absent or generic
 * the document's own `mediaType` field (or its shape) decides.
 */
export function parseManifest(bytes: Uint8Array, mediaType?: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new OciError('MANIFEST_INVALID', 'manifest is not JSON', { cause: err });
  }
  const r = ManifestSchema.safeParse(json);
  if (!r.success) throw new OciError('MANIFEST_INVALID', `manifest does not have the OCI/Docker v2 shape: ${r.error.issues[0]?.message ?? ''}`);
  const m = r.data;
  let type = mediaType && MANIFEST_MEDIA_TYPES.includes(baseMediaType(mediaType)) ? baseMediaType(mediaType) : m.mediaType;
  if (!type) type = m.manifests ? MediaType.OCI_INDEX : MediaType.OCI_MANIFEST;
  if (!MANIFEST_MEDIA_TYPES.includes(type)) throw new OciError('UNSUPPORTED_MEDIA_TYPE', `unsupported manifest media type ${type}`);
  const isIndex = isIndexMediaType(type);
  if (isIndex && !m.manifests) throw new OciError('MANIFEST_INVALID', 'index has no manifests');
  if (!isIndex && !m.config) throw new OciError('MANIFEST_INVALID', 'image manifest has no config');
  return {
    mediaType: type,
    isIndex,
    artifactType: m.artifactType,
    config: m.config,
    layers: m.layers ?? [],
    manifests: m.manifests ?? [],
    subject: m.subject,
    annotations: m.annotations,
  };
}

/** `application/json; charset=utf-8` -> `application/json` */
export function baseMediaType(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase();
}

/** Blobs an image manifest needs (config and layers); foreign/non-distributable layers are left out. */
export function blobsOf(m: ParsedManifest): Descriptor[] {
  if (m.isIndex) return [];
  const out = m.config ? [m.config] : [];
  for (const l of m.layers) if (!/foreign|nondistributable/.test(l.mediaType)) out.push(l);
  return out;
}

/** "linux/arm64/v8" against a descriptor's platform. A missing variant in the wanted string matches any. */
export function matchesPlatform(platform: Platform | undefined, wanted: string): boolean {
  if (!platform) return false;
  const [os, arch, variant] = wanted.split('/');
  if (platform.os !== os || platform.architecture !== arch) return false;
  return variant === undefined || platform.variant === variant;
}
