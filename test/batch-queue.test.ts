/** The bounded queue between the fetch side and the writer: units (a page's batches) stay whole. */
import { describe, expect, it } from 'vitest';
import { BatchQueue } from '../src/queue/batch-queue.js';

const item = (name: string, rowCount: number) => ({ name, rowCount });

describe('BatchQueue units', () => {
  it('take never hands over part of a unit, even past its row budget', async () => {
    const queue = new BatchQueue<{ name: string; rowCount: number }>({ maxRows: 1000 });
    await queue.pushUnit([item('a1', 60), item('a2', 60), item('a3', 60)]);
    await queue.pushUnit([item('b1', 60), item('b2', 60)]);
    const first = await queue.take(100);
    expect(first!.map((i) => i.name)).toEqual(['a1', 'a2', 'a3']);
    const second = await queue.take(100);
    expect(second!.map((i) => i.name)).toEqual(['b1', 'b2']);
  });

  it('a unit waits for room as a whole, and single pushes still work', async () => {
    const queue = new BatchQueue<{ name: string; rowCount: number }>({ maxRows: 100 });
    await queue.push(item('x', 80));
    let pushed = false;
    const waiting = queue.pushUnit([item('u1', 30), item('u2', 30)]).then(() => { pushed = true; });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pushed).toBe(false);
    expect((await queue.take())!.map((i) => i.name)).toEqual(['x']);
    await waiting;
    expect((await queue.take(10))!.map((i) => i.name)).toEqual(['u1', 'u2']);
  });

  it('takeWaiting takes whole units that fit, without waiting, possibly none', async () => {
    const queue = new BatchQueue<{ name: string; rowCount: number }>({ maxRows: 1000 });
    expect(queue.takeWaiting(100)).toEqual([]);
    await queue.pushUnit([item('a1', 40), item('a2', 40)]);
    await queue.pushUnit([item('b1', 40), item('b2', 40)]);
    // b's first batch fits in 100 rows after a's 80, but b as a whole does not: it stays.
    expect(queue.takeWaiting(100).map((i) => i.name)).toEqual(['a1', 'a2']);
    expect(queue.takeWaiting(50)).toEqual([]);
    expect(queue.rows).toBe(80);
    expect(queue.takeWaiting(50, true).map((i) => i.name)).toEqual(['b1', 'b2']);
    expect(queue.rows).toBe(0);
  });
});
