// compareWalkOrder must agree with the order a real walk gives, since a rescan merges its
// entries with the last scan's rows by it: a pair it got wrong would delete a row and insert
// it again, or worse, see a path as gone that the walk had yet to reach.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { realFsOps } from '../../src/fs/ops.js';
import { walk } from '../../src/scan/walk.js';
import { compareWalkOrder, ID_GAP, idBetween, MAX_ID } from '../../src/store/walk-order.js';
import { tempDirs } from '../helpers/tree.js';

const temp = tempDirs();

describe('compareWalkOrder', () => {
  it('orders every pair of paths of a real walk as the walk gave them', () => {
    const root = temp();
    const names = ['a', 'a.x', 'a-b', 'ab', 'a b', 'B', 'z\nnl', 'é'];
    for (const dir of ['a', 'ab', path.join('a', 'a')]) fs.mkdirSync(path.join(root, dir), { recursive: true });
    for (const dir of ['', 'a', 'ab', path.join('a', 'a')]) {
      for (const name of names) {
        const p = path.join(root, dir, name);
        if (!fs.existsSync(p)) fs.writeFileSync(p, '');
      }
      // A name that is not UTF-8, with a byte above every ASCII one.
      fs.writeFileSync(Buffer.concat([Buffer.from(path.join(root, dir) + '/'), Buffer.from([0x61, 0xff])]), '');
    }
    const order = [...walk(Buffer.from(root), { ops: realFsOps, onError: (_rel, err) => { throw err; } })].map((w) => w.rel);
    expect(order.length).toBeGreaterThan(30);
    for (let i = 0; i < order.length; i++) {
      expect(compareWalkOrder(order[i], order[i])).toBe(0);
      for (let j = i + 1; j < order.length; j++) {
        expect(Math.sign(compareWalkOrder(order[i], order[j])), `${order[i]} before ${order[j]}`).toBe(-1);
        expect(Math.sign(compareWalkOrder(order[j], order[i]))).toBe(1);
      }
    }
    // The case that bytewise order of whole paths gets wrong is in the tree.
    const at = (p: string) => order.findIndex((b) => b.equals(Buffer.from(p)));
    expect(at('a/a')).toBeLessThan(at('a.x'));
    expect(Buffer.compare(Buffer.from('a/a'), Buffer.from('a.x'))).toBe(1);
  });
});

describe('idBetween', () => {
  it('appends ID_GAP after the last row, and finds ids between two rows until there is no room', () => {
    expect(idBetween(0, undefined)).toBe(ID_GAP);
    expect(idBetween(MAX_ID, undefined)).toBeUndefined();
    let prev = ID_GAP;
    let fitted = 0;
    let outside = 0;
    for (let id = idBetween(prev, 2 * ID_GAP); id !== undefined; id = idBetween(prev, 2 * ID_GAP)) {
      if (id <= prev || id >= 2 * ID_GAP) outside++;
      prev = id;
      fitted++;
    }
    expect(outside).toBe(0);
    expect(fitted).toBe(93_848);
    expect(idBetween(5, 6)).toBeUndefined();
    expect(idBetween(5, 7)).toBe(6);
  });
});
