// An error crossing from a worker thread to the main thread: structured cloning keeps an Error's
// message but drops its code, so the threads send both as plain fields and the main thread
// makes an Error of them again, code and all (scan.ts tells SRC_MISSING from it; the copy tells
// a full drive from a file it cannot read).
import { errnoCode } from './errno.js';

export interface WireError {
  code?: string;
  syscall?: string;
  message: string;
}

export function toWire(err: unknown): WireError {
  return { code: errnoCode(err), message: (err as Error | undefined)?.message ?? String(err) };
}

/**
 * Source text of `toWire(err)` for the threads that run code given as text (the copy, link and
 * lstat threads, see fs/path-wire.ts): an fs call's error, with EIO for one without a code.
 */
export const TO_WIRE_JS = `
function toWire(err) {
  return { code: err.code || 'EIO', syscall: err.syscall, message: String(err.message) };
}
`;

export function fromWire(m: WireError): Error {
  return Object.assign(new Error(m.message), m.syscall === undefined ? { code: m.code } : { code: m.code, syscall: m.syscall });
}
