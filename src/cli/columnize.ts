/**
 * Tables as Consul prints them (ryanuber/columnize with its defaults): every column but a row's
 * last is padded to the widest cell in that column, columns are joined by two spaces, and the
 * last cell is never padded.
 */
export function columnize(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  "))
    .join("\n");
}
