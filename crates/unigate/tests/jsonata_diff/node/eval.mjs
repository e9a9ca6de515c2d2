// Evaluates each case of a JSON array read from stdin ({"expr", "input"}) with jsonata and
// Truto's extension library registered, and writes one result per case to stdout:
// {"value": ...}, {"undefined": true} or {"error": "..."}. Run by tests/jsonata_diff.
import jsonata from 'jsonata';
import trutoJsonata from '@truto/truto-jsonata';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const out = [];
for (const c of cases) {
  try {
    const value = await trutoJsonata(c.expr).evaluate(c.input ?? {});
    // As the gateway would serialise it (toJSON of dates and URLs, functions dropped).
    out.push(value === undefined ? { undefined: true } : { value: JSON.parse(JSON.stringify(value) ?? 'null') });
  } catch (e) {
    out.push({ error: String(e?.message ?? e?.code ?? e) });
  }
}
process.stdout.write(JSON.stringify(out));
