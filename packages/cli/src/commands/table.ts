/**
 * Rows as aligned columns, two spaces apart, like `vela ls` and kubectl:
 * the first row is the header; the last column is not padded.
 */
export function formatColumns(rows: string[][]): string {
  const widths = rows[0].map((_, col) =>
    Math.max(...rows.map(r => r[col].length)),
  );
  return rows
    .map(r =>
      r
        .map((cell, col) =>
          col === r.length - 1 ? cell : cell.padEnd(widths[col]),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n');
}
