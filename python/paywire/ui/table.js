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

// columns: [{title, key, right}] where key is a property name or a function of the row.
export function table(columns, rows) {
  const cells = rows.map((row) =>
    columns.map((c) => cell(typeof c.key === "function" ? c.key(row) : row[c.key])),
  );
  const widths = columns.map((c, i) =>
    Math.max(c.title.length, ...cells.map((r) => r[i].length)),
  );
  const format = (values) =>
    values
      .map((v, i) => (columns[i].right ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  const lines = [format(columns.map((c) => c.title)), format(widths.map((w) => "-".repeat(w)))];
  for (const r of cells) lines.push(format(r));
  if (rows.length === 0) lines.push("(none)");
  return lines;
}

// pairs: [[label, value]] printed as "label  value" with the labels aligned.
export function keyValues(pairs) {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${cell(v)}`);
}
