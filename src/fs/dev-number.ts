// A device number (st_dev, st_rdev) as its major and minor, in glibc's encoding (the one libuv's
// stat gives): 12 bits of major and 20 of minor in the low 32, the rest of each above.

export function majorMinor(dev: bigint): { major: bigint; minor: bigint } {
  return {
    major: ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn),
    minor: (dev & 0xffn) | ((dev >> 12n) & ~0xffn),
  };
}

/** "major:minor", as /proc/self/mountinfo and /sys/dev/block name a device. */
export function deviceName(dev: bigint): string {
  const { major, minor } = majorMinor(dev);
  return `${major}:${minor}`;
}
