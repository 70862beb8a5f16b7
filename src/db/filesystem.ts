import { statfsSync } from 'node:fs';

/**
 * File systems on which SQLite's WAL mode is unsafe: WAL needs shared memory (the `-shm`
 * file, mmapped by every connection) and POSIX locks that all hosts see, which network and
 * user-space file systems do not reliably give. Magic numbers from Linux `statfs(2)`.
 */
const NETWORK_FILE_SYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x6969, 'NFS'],
  [0x517b, 'SMB'],
  [0xff534d42, 'CIFS'],
  [0xfe534d42, 'SMB2'],
  [0x65735546, 'FUSE'],
  [0x01021997, '9p (v9fs)'],
  [0x00c36400, 'Ceph'],
  [0x5346414f, 'AFS'],
  [0x73757245, 'Coda'],
  [0x564c, 'NCP'],
  [0x01161970, 'GFS2'],
  [0x7461636f, 'OCFS2'],
  [0x0bd00bd0, 'Lustre'],
  [0x47504653, 'GPFS'],
]);

export interface FileSystemInfo {
  /** The `statfs` magic number, or null where the platform does not report one. */
  type: number | null;
  /** A name for the file system type when it is one we know to be networked. */
  networkName: string | null;
  freeBytes: number | null;
}

/** Describes the file system that holds `folder` (which must exist). */
export function fileSystemOf(folder: string): FileSystemInfo {
  try {
    const stats = statfsSync(folder);
    const type = Number(stats.type);
    return {
      type,
      networkName: NETWORK_FILE_SYSTEMS.get(type >>> 0) ?? null,
      freeBytes: Number(stats.bavail) * Number(stats.bsize),
    };
  } catch {
    return { type: null, networkName: null, freeBytes: null };
  }
}

/** Why WAL must not be used in `folder`, or null when nothing speaks against it. */
export function walIncompatibility(folder: string): string | null {
  const { networkName } = fileSystemOf(folder);
  if (networkName !== null) {
    return `${folder} is on a ${networkName} file system; WAL needs shared memory and locks that network and user-space file systems do not provide reliably`;
  }
  return null;
}
