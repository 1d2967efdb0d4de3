// An error crossing from a walk thread to the main thread: structured cloning keeps an Error's
// message but drops its code, so the threads send both as plain fields and the main thread
// makes an Error of them again, code and all (scan.ts tells SRC_MISSING from it).
import { errnoCode } from '../fs/errno.js';

export interface WireError {
  code?: string;
  message: string;
}

export function toWire(err: unknown): WireError {
  return { code: errnoCode(err), message: (err as Error | undefined)?.message ?? String(err) };
}

export function fromWire(m: WireError): Error {
  return Object.assign(new Error(m.message), { code: m.code });
}
