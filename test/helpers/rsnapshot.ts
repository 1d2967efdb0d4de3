// A minimal rsnapshot.conf for the tests that drive Debian's real rsnapshot: backup `data` into
// snapshot root `root`. rsnapshot wants TABs between fields and directories with a trailing slash.
import fs from 'node:fs';
import path from 'node:path';

export interface RsnapshotConfig {
  /** Where the config (and the lock file) go. */
  dir: string;
  data: string;
  root: string;
  /** rsync --link-dest instead of cp -al for the new snapshot. */
  linkDest: boolean;
  /** How many hourly snapshots to keep. */
  retain: number;
}

export function writeRsnapshotConfig(c: RsnapshotConfig): string {
  const conf = path.join(c.dir, 'rsnapshot.conf');
  const lines = [
    ['config_version', '1.2'],
    ['snapshot_root', `${c.root}/`],
    ['no_create_root', '0'],
    ['cmd_cp', '/bin/cp'],
    ['cmd_rm', '/bin/rm'],
    ['cmd_rsync', '/usr/bin/rsync'],
    ['link_dest', c.linkDest ? '1' : '0'],
    ['lockfile', path.join(c.dir, 'rsnapshot.pid')],
    // -H: hard links inside the source are kept inside each snapshot too.
    ['rsync_short_args', '-aH'],
    ['retain', 'hourly', String(c.retain)],
    ['verbose', '1'],
    ['backup', `${c.data}/`, 'localhost/'],
  ];
  fs.writeFileSync(conf, lines.map((l) => l.join('\t')).join('\n') + '\n');
  return conf;
}
