/** Markdown tables that line up in a terminal and paste into a note as they are. */

export type Align = "left" | "right"

/** Renders a markdown table; `align` per column (default: left for the first, right for the rest). */
export const renderTable = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, align?: ReadonlyArray<Align>): string => {
  const alignOf = (i: number): Align => align?.[i] ?? (i === 0 ? "left" : "right")
  const widths = headers.map((h, i) => Math.max(3, h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const pad = (s: string, i: number) => (alignOf(i) === "right" ? s.padStart(widths[i]!) : s.padEnd(widths[i]!))
  const line = (cells: ReadonlyArray<string>) => `| ${widths.map((_, i) => pad(cells[i] ?? "", i)).join(" | ")} |`
  const rule = `|${widths.map((w, i) => (alignOf(i) === "right" ? `${"-".repeat(w + 1)}:` : `:${"-".repeat(w + 1)}`)).join("|")}|`
  return [line(headers), rule, ...rows.map(line)].join("\n")
}

/** Prints {@link renderTable} to stdout. */
export const printTable = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, align?: ReadonlyArray<Align>): void => {
  console.log(renderTable(headers, rows, align))
}

/** 1234567.8 → "1,234,568". */
export const fmtInt = (n: number): string => Math.round(n).toLocaleString("en-US")

/** Fixed decimals, "–" for NaN/undefined. */
export const fmtNum = (n: number | undefined, digits = 2): string => (n === undefined || !Number.isFinite(n) ? "–" : n.toFixed(digits))
