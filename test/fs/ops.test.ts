// realFsOps against the real filesystem, where a detail of Node's API could lose data.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { realFsOps } from '../../src/fs/ops.js';
import { tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

describe('realFsOps', () => {
  // Regression: nsToSeconds handed libuv us/1e6, and libuv truncates (s - whole) * 1e9, so
  // about half of all mtimes came back one microsecond early and a mirror never matched.
  it('lutimes keeps the microsecond of every mtime (libuv truncation off by one)', () => {
    const f = path.join(temp(), 'f');
    fs.writeFileSync(f, '');
    const bases = [1_000_000_000n, 1_700_000_000n, 2_147_483_647n, 4_102_444_800n];
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const wrong: string[] = [];
    for (const s of bases) {
      for (let i = 0; i < 500; i++) {
        const ns = s * 1_000_000_000n + BigInt(Math.floor(random() * 1e9));
        realFsOps.lutimes(f, ns, ns);
        const st = fs.lstatSync(f, { bigint: true });
        if (st.mtimeNs / 1000n !== ns / 1000n || st.atimeNs / 1000n !== ns / 1000n) wrong.push(`${ns} -> ${st.mtimeNs}`);
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  // Regression: Node turns a negative time in seconds into "now" (fs.utimes' toUnixTimestamp),
  // so a file from before 1970 was mirrored with the time of the copy.
  it('lutimes keeps mtimes before 1970 to the microsecond (Node took negative seconds as now)', () => {
    const f = path.join(temp(), 'f');
    fs.writeFileSync(f, '');
    const wrong: string[] = [];
    let seed = 54321;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const times = [-1n, -1_000n, -1_500_000n, -86_400_000_000_000n, -86_399_999_999_000n, -2_000_000_000_123_456_789n];
    for (const s of [0n, -86_400n, -1_000_000_000n, -2_000_000_000n]) {
      for (let i = 0; i < 200; i++) times.push(s * 1_000_000_000n - BigInt(Math.floor(random() * 1e9)));
    }
    for (const ns of times) {
      realFsOps.lutimes(f, ns, ns);
      const st = fs.lstatSync(f, { bigint: true });
      // Truncated to the microsecond like every other time (toward zero, as ns / 1000n does).
      if (st.mtimeNs / 1000n !== ns / 1000n || st.atimeNs / 1000n !== ns / 1000n) wrong.push(`${ns} -> ${st.mtimeNs}`);
    }
    expect(wrong).toEqual([]);
  });

  it('lutimes sets a symlink’s own time, not its target’s', () => {
    const d = temp();
    fs.writeFileSync(path.join(d, 't'), '');
    fs.symlinkSync('t', path.join(d, 's'));
    const before = fs.statSync(path.join(d, 't'), { bigint: true }).mtimeNs;
    realFsOps.lutimes(path.join(d, 's'), 1_500_000_000_000_001_000n, 1_500_000_000_000_001_000n);
    expect(fs.lstatSync(path.join(d, 's'), { bigint: true }).mtimeNs).toBe(1_500_000_000_000_001_000n);
    expect(fs.statSync(path.join(d, 't'), { bigint: true }).mtimeNs).toBe(before);
  });

  it('copyFile refuses an existing destination', () => {
    const d = temp();
    fs.writeFileSync(path.join(d, 'a'), 'a');
    fs.writeFileSync(path.join(d, 'b'), 'b');
    expect(() => realFsOps.copyFile(path.join(d, 'a'), path.join(d, 'b'))).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(fs.readFileSync(path.join(d, 'b'), 'utf8')).toBe('b');
  });
});
