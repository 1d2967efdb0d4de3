// Times in nanoseconds as the index keeps them: in SQLite's signed 64 bits, which end on
// 2262-04-11 and begin on 1677-09-21. A file dated past either end (ext4 goes to 2446) is taken
// as dated at that end, wherever its times are read (the scan, the look at a source after its
// copy, verify's scans), so it compares equal to itself and its copy gets that date; a value
// wrapped round instead would be a date in the 1700s, and one bound as it is fails in SQLite.
export const NS_MAX = 2n ** 63n - 1n;
export const NS_MIN = -(2n ** 63n);

export function clampNs(v: bigint): bigint {
  return v > NS_MAX ? NS_MAX : v < NS_MIN ? NS_MIN : v;
}

/** Source text of `clampNs(v)`, for the threads that run code given as text. */
export const CLAMP_NS_JS = `
function clampNs(v) { return v > ${NS_MAX}n ? ${NS_MAX}n : v < ${NS_MIN}n ? ${NS_MIN}n : v; }
`;
