/**
 * The one CSV writer. Fields are quoted as RFC 4180 says: a field holding a comma, a double
 * quote, CR or LF is enclosed in double quotes with each quote doubled; others are written as
 * they are. Lines end in LF (not RFC 4180's CRLF), as every CSV this project has written so far,
 * and the text ends with one.
 */

export type CsvCell = string | number | null | undefined;

/** One field: null and undefined as an empty field, numbers as String() writes them. */
export function csvField(v: CsvCell): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A header line and one line per row; every row must have as many fields as the header. */
export function toCsv(header: readonly string[], rows: Iterable<readonly CsvCell[]>): string {
  const lines = [header.map(csvField).join(',')];
  for (const r of rows) {
    if (r.length !== header.length) {
      throw new RangeError(`toCsv: a row has ${r.length} fields, the header ${header.length}`);
    }
    lines.push(r.map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}
