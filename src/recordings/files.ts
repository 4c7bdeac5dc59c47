/**
 * Where rendered recordings live: a seam, so that an S3-compatible store can replace the data
 * directory later without touching the worker or the REST routes. `localRecordingFiles` keeps them
 * as `<dir>/<name>`, written atomically (temporary file, fsync, rename).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

export interface RecordingFiles {
  /** Store `data` under `name`, replacing any file of that name; readers never see half a file. */
  put(name: string, data: Buffer): Promise<void>;
  /** Size in bytes of a stored file; undefined when there is none. */
  size(name: string): Promise<number | undefined>;
  /** The file's bytes, or the inclusive byte range `start`–`end` of them. */
  read(name: string, range?: { start: number; end: number }): Readable;
  /** Delete a file; deleting one that is not there is not an error. */
  remove(name: string): Promise<void>;
  /** Where the files are, for logs and diagnostics. */
  readonly description: string;
}

/** A name is one path segment: no directories, no dot files. */
function checked(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new RangeError(`not a recording file name: ${name}`);
  return name;
}

export function localRecordingFiles(dir: string): RecordingFiles {
  return {
    description: dir,
    async put(name, data) {
      await mkdir(dir, { recursive: true });
      const finalPath = join(dir, checked(name));
      const tempPath = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
      try {
        const handle = await open(tempPath, 'w', 0o640);
        try {
          await handle.writeFile(data);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(tempPath, finalPath);
      } catch (cause) {
        await rm(tempPath, { force: true }).catch(() => {});
        throw cause;
      }
    },
    async size(name) {
      try {
        const file = await stat(join(dir, checked(name)));
        return file.isFile() ? file.size : undefined;
      } catch {
        return undefined;
      }
    },
    read(name, range) {
      return createReadStream(join(dir, checked(name)), range);
    },
    async remove(name) {
      await rm(join(dir, checked(name)), { force: true });
    },
  };
}
