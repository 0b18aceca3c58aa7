// Aligned plain-text tables and key/value blocks for the terminal's monospaced output.

const EMPTY = "-";

// Controls, format characters (bidirectional overrides among them) and line or paragraph
// separators could reorder or break a line; the server refuses them at entry, and this keeps
// whatever else comes from it (a counterparty's text) on its own line, in its own order.
const UNSHOWABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

// Text as it may go on screen: every unshowable character shown as \ufffd. The terminal puts
// every line through it, in tables or not (an error message, a name in a confirmation).
export function showable(text) {
  return String(text).replace(UNSHOWABLE, "\ufffd");
}

function cell(value) {
  if (value === null || value === undefined || value === "") return EMPTY;
  return showable(Array.isArray(value) ? value.join(",") : value);
}

// A table's rows of cells, each cell's text padded to its column's width in characters and
// followed by the gap to the next: the text of a row reads aligned wherever it is copied. On
// screen the terminal lays each cell out in a box of its own (Terminal.printTable), since
// characters are not all one column wide and a cell's direction must not spill into the next.
export class Table {
  constructor(rows, right, empty) {
    this.rows = rows;
    this.right = right;
    this.empty = empty;
  }
}

const GAP = "  ";

// columns: [{title, key, right}] where key is a property name or a function of the row.
export function table(columns, rows) {
  const cells = rows.map((row) =>
    columns.map((c) => cell(typeof c.key === "function" ? c.key(row) : row[c.key])),
  );
  const widths = columns.map((c, i) =>
    Math.max(c.title.length, ...cells.map((r) => r[i].length)),
  );
  const last = columns.length - 1;
  const format = (values) =>
    values.map((v, i) => {
      if (columns[i].right) return v.padStart(widths[i]) + (i < last ? GAP : "");
      return i < last ? v.padEnd(widths[i]) + GAP : v;
    });
  const head = [format(columns.map((c) => c.title)), format(widths.map((w) => "-".repeat(w)))];
  return new Table(
    [...head, ...cells.map(format)],
    columns.map((c) => Boolean(c.right)),
    rows.length === 0,
  );
}

// pairs: [[label, value]] printed as "label  value" with the labels aligned.
export function keyValues(pairs) {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${cell(v)}`);
}
