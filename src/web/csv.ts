// CSV export (RFC 4180) that spreadsheets cannot turn into formulas.

/** Quotes every cell; a cell that a spreadsheet would read as a formula is prefixed with an apostrophe (OWASP CSV injection). */
export function csvCell(value: string | number | boolean | null | undefined): string {
  let text = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r|%]/.test(text)) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

export function csvRow(values: (string | number | boolean | null | undefined)[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}
