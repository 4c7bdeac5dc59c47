import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, describe, expect, it } from 'vitest';
import { localRecordingFiles } from './files.js';

const dir = mkdtempSync(join(tmpdir(), 'sb-rec-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('localRecordingFiles', () => {
  const files = localRecordingFiles(join(dir, 'recordings'));

  it('puts a file atomically (no temporary file left), sizes it, reads it whole and in ranges, removes it', async () => {
    await files.put('a.mp3', Buffer.from('0123456789'));
    expect(readdirSync(join(dir, 'recordings'))).toEqual(['a.mp3']);
    expect(await files.size('a.mp3')).toBe(10);
    expect(await text(files.read('a.mp3'))).toBe('0123456789');
    expect(await text(files.read('a.mp3', { start: 2, end: 4 }))).toBe('234');
    await files.put('a.mp3', Buffer.from('xyz'));
    expect(await files.size('a.mp3')).toBe(3);
    await files.remove('a.mp3');
    await files.remove('a.mp3');
    expect(await files.size('a.mp3')).toBeUndefined();
  });

  it('refuses names that are not one plain path segment', async () => {
    for (const name of ['../x.mp3', 'a/b.mp3', '.hidden', '']) {
      await expect(files.put(name, Buffer.from('x'))).rejects.toThrow(RangeError);
      expect(() => files.read(name)).toThrow(RangeError);
    }
  });
});
