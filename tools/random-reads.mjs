// What one random read of a hash table costs on this machine, by table size: the MemoryStore's
// bound (README, "What the policy costs"). For each size, an Int32Array of [hash, record] pairs
// as the store's table is laid out, read at 65,536 random slots in a loop with nothing else in it
// (the store's read-ahead, #touch: the reads are independent, so the CPU overlaps their misses),
// best of 34 passes; and a chain of dependent reads (each index read from the last), the latency
// of one miss with nothing to overlap it.
//
//   flock /work/bench.lock node tools/random-reads.mjs
//
// SIZES: table sizes in MB (default 2,16,64,128).
const sizes = (process.env.SIZES ?? '2,16,64,128').split(',').map(Number);
const READS = 1 << 16;
const idx = new Int32Array(READS);
let sink = 0;
for (const mb of sizes) {
  const slots = (mb * 2 ** 20) / 8;
  const table = new Int32Array(2 * slots).fill(1);
  const mask = slots - 1;
  let best = Number.POSITIVE_INFINITY;
  for (let pass = 0; pass < 40; pass++) {
    for (let i = 0; i < READS; i++) idx[i] = (Math.random() * 2 ** 31) | 0;
    const t0 = process.hrtime.bigint();
    let any = 0;
    for (let i = 0; i < READS; i++) any |= table[2 * (idx[i] & mask) + 1];
    const ns = Number(process.hrtime.bigint() - t0) / READS;
    sink |= any;
    if (pass >= 6) best = Math.min(best, ns);
  }
  // A random cycle through the same bytes (Sattolo's shuffle), followed for 200,000 steps.
  const next = new Int32Array(2 * slots);
  for (let i = 0; i < next.length; i++) next[i] = i;
  for (let i = next.length - 1; i > 0; i--) {
    const j = (Math.random() * i) | 0;
    const x = next[i];
    next[i] = next[j];
    next[j] = x;
  }
  let p = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 200_000; i++) p = next[p];
  const chained = Number(process.hrtime.bigint() - t0) / 200_000;
  sink |= p;
  console.log(`table ${String(mb).padStart(4)} MB: independent reads ${best.toFixed(1).padStart(5)} ns each; dependent ${chained.toFixed(1).padStart(6)} ns each`);
}
if (sink === 0.5) console.log(sink); // (keeps the reads)
