/** The text a pdfkit content stream shows: every TJ array's hex strings, decoded (WinAnsi ⊇ ASCII), one entry per TJ. */
export function pdfText(pdf: Buffer): string[] {
  const out: string[] = [];
  for (const m of pdf.toString('latin1').matchAll(/\[([^\]]*)\]\s*TJ/g)) {
    const body = m[1] ?? '';
    out.push([...body.matchAll(/<([0-9a-fA-F]*)>/g)].map((h) => Buffer.from(h[1] ?? '', 'hex').toString('latin1')).join(''));
  }
  return out;
}
