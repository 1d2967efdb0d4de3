// Where the linkmirror CLI of this checkout is, for measurements that run it with their own
// arguments (copy-tools.ts runs only the plain copy). It is run through its shebang, as a user
// runs it, so that it gets the V8 and malloc settings the shebang gives.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const LINKMIRROR_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/linkmirror.js');
