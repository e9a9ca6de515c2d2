// The reference JSONata (the `jsonata` npm package) on the same expressions and inputs as
// `cargo run --example bench -- mapping` (which writes them with `--dump`).
// Usage: node mapping.js CASES.json SECONDS  -> one JSON line per provider.
'use strict';
const fs = require('fs');
const jsonata = require('jsonata');

// Unigate's helper functions (crates/unigate/src/mapping/functions.rs), same semantics.
const isEmpty = (v) => v === undefined || v === null || v === '' ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
const removeEmpty = (v) => {
  if (Array.isArray(v)) return v.map(removeEmpty).filter((x) => !isEmpty(x));
  if (v && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) { const y = removeEmpty(x); if (!isEmpty(y)) out[k] = y; }
    return out;
  }
  return v;
};
const helpers = {
  removeEmpty: [removeEmpty, '<x-:x>'],
  firstNonEmpty: [(...args) => args.find((v) => !isEmpty(v)), '<x+:x>'],
  toNumber: [(v) => {
    if (typeof v === 'number') return v;
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'string' && v.trim() !== '' && !isNaN(Number(v.trim()))) return Number(v.trim());
    return undefined;
  }, '<x-:n>'],
  epochToIso: [(v) => {
    const s = typeof v === 'number' ? v : (typeof v === 'string' ? Number(v.trim()) : NaN);
    if (!isFinite(s)) return undefined;
    return new Date(Math.trunc(s * 1000)).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }, '<x-:s>'],
  hexToNumber: [(v) => {
    if (typeof v !== 'string') return undefined;
    const t = v.trim().replace(/^0x/, '');
    if (t === '' || t.length > 13 || !/^[0-9a-fA-F]+$/.test(t)) return undefined;
    return parseInt(t, 16);
  }, '<x-:n>'],
};

async function main() {
  const [file, secondsArg] = process.argv.slice(2);
  const seconds = Number(secondsArg || '2');
  const cases = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const c of cases) {
    const expr = jsonata(c.expression);
    for (const [name, [fn, sig]] of Object.entries(helpers)) expr.registerFunction(name, fn, sig);
    const budget = seconds * 1000;
    let t0 = performance.now();
    while (performance.now() - t0 < budget / 10) await expr.evaluate(c.input);
    let evals = 0;
    t0 = performance.now();
    while (performance.now() - t0 < budget) {
      for (let i = 0; i < 64; i++) await expr.evaluate(c.input);
      evals += 64;
    }
    const elapsed = (performance.now() - t0) / 1000;
    const out = await expr.evaluate(c.input);
    const same = JSON.stringify(out) === JSON.stringify(c.expected);
    console.log(JSON.stringify({ provider: c.provider, evals, seconds: elapsed, per_sec: evals / elapsed, same_result: same }));
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
