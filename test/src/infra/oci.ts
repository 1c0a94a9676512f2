/*
 * OCI images made by hand: a config blob, one gzip layer and an OCI manifest,
 * which is all a registry stores and all containerd needs to run a static
 * binary. Used to push images over the registry's HTTP API (./registry.ts)
 * and to import the pause image into a real node's containerd (./node.ts).
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';

export const sha256 = (data: Buffer | string) =>
  `sha256:${crypto.createHash('sha256').update(data).digest('hex')}`;

export interface ImageFile {
  /** Path inside the image, without a leading slash. */
  name: string;
  content: Buffer;
  /** Unix mode; 0o755 for a program. Default 0o644. */
  mode?: number;
}

/** The runtime part of an image config (the OCI `config` object). */
export interface ImageRuntimeConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  ExposedPorts?: Record<string, Record<string, never>>;
  User?: string;
}

export interface ImageContent {
  files: ImageFile[];
  config?: ImageRuntimeConfig;
}

export interface Blob {
  digest: string;
  size: number;
  data: Buffer;
}

export interface ImageBlobs {
  config: Blob;
  layer: Blob;
}

const blob = (data: Buffer): Blob => ({
  digest: sha256(data),
  size: data.length,
  data,
});

/** A ustar archive of regular files, with fixed owner and mtime so layers are reproducible. */
export function tarFiles(
  files: Array<{ name: string; content: Buffer; mode?: number }>,
): Buffer {
  const parts: Buffer[] = [];
  for (const { name, content, mode = 0o644 } of files) {
    const header = Buffer.alloc(512);
    header.write(name, 0, 100, 'utf8');
    header.write(`${mode.toString(8).padStart(7, '0')}\0`, 100, 8, 'ascii');
    header.write('0000000\0', 108, 8, 'ascii'); // uid
    header.write('0000000\0', 116, 8, 'ascii'); // gid
    header.write(
      `${content.length.toString(8).padStart(11, '0')}\0`,
      124,
      12,
      'ascii',
    );
    header.write('00000000000\0', 136, 12, 'ascii'); // mtime
    header.write('        ', 148, 8, 'ascii'); // checksum placeholder: spaces while summing
    header.write('0', 156, 1, 'ascii'); // regular file
    header.write('ustar\0', 257, 6, 'ascii');
    header.write('00', 263, 2, 'ascii');
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
    parts.push(
      header,
      content,
      Buffer.alloc((512 - (content.length % 512)) % 512),
    );
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** Config blob and single gzip layer of an image holding `files`. */
export function imageBlobs(content: ImageContent): ImageBlobs {
  const tar = tarFiles(content.files);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: content.config ?? { Cmd: ['/bin/true'] },
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    }),
  );
  return { config: blob(config), layer: blob(zlib.gzipSync(tar)) };
}

export const MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';

/** The OCI manifest of `blobs`. */
export function imageManifest(
  blobs: ImageBlobs,
  annotations?: Record<string, string>,
): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_MEDIA_TYPE,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: blobs.config.digest,
        size: blobs.config.size,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: blobs.layer.digest,
          size: blobs.layer.size,
        },
      ],
      ...(annotations ? { annotations } : {}),
    }),
  );
}

/**
 * An OCI image layout as a tar archive, the format `ctr images import`
 * reads; `reference` (e.g. `gitops.local/pause:3.10.2`) is the name the
 * image gets.
 */
export function ociArchive(reference: string, content: ImageContent): Buffer {
  const blobs = imageBlobs(content);
  const manifest = blob(imageManifest(blobs));
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: MANIFEST_MEDIA_TYPE,
        digest: manifest.digest,
        size: manifest.size,
        annotations: {
          'io.containerd.image.name': reference,
          'org.opencontainers.image.ref.name': reference.split(':').pop(),
        },
      },
    ],
  };
  const blobFile = (b: Blob) => ({
    name: `blobs/sha256/${b.digest.slice('sha256:'.length)}`,
    content: b.data,
  });
  return tarFiles([
    {
      name: 'oci-layout',
      content: Buffer.from('{"imageLayoutVersion":"1.0.0"}'),
    },
    { name: 'index.json', content: Buffer.from(JSON.stringify(index)) },
    blobFile(blobs.config),
    blobFile(blobs.layer),
    blobFile(manifest),
  ]);
}
