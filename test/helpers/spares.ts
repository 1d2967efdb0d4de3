// Arrays given back over a port, as a walk thread's builder takes them (see scan/walk-batch.ts
// and scan/path-chunk.ts): `next` reads the port at once, and `taken` lists what it returned.
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

export function sparesFrom<T>(port: MessagePort): { next: () => T | undefined; taken: T[] } {
  const taken: T[] = [];
  const next = () => {
    const a = receiveMessageOnPort(port)?.message as T | undefined;
    if (a) taken.push(a);
    return a;
  };
  return { next, taken };
}
