// Cells for the measurements that print their own markdown tables (report.ts keeps its own for
// the full-copy table): numbers with a fixed precision, bytes in MiB, ratios, and text made safe
// for a table row.

export function num(n: number | undefined, digits = 1): string {
  return n === undefined || Number.isNaN(n) ? '–' : n.toFixed(digits);
}

export function mib(bytes: number | undefined): string {
  return bytes === undefined || Number.isNaN(bytes) ? '–' : (bytes / 2 ** 20).toFixed(1);
}

export function times(n: number | undefined, digits = 2): string {
  return n === undefined || !Number.isFinite(n) ? '–' : `${n.toFixed(digits)}×`;
}

/** A literal | would end the cell, a newline the row. */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
