// seeds.mjs - the dataset seeds of the tests that run once per seeded
// dataset (aggregator, analytics, customers-query).
//
// TT_E2E_SEEDS is a comma list of seeds (decimal, at most nine digits);
// without it one dataset, seed 20250309. tools/lib/test.sh sets three.

/** The seeds named by text (default: $TT_E2E_SEEDS), in order. */
export function e2eSeeds(text = process.env.TT_E2E_SEEDS) {
  return (text ?? '20250309').split(',').map((x) => x.trim()).filter((x) => x !== '').map((x) => {
    if (!/^\d{1,9}$/.test(x)) throw new Error(`TT_E2E_SEEDS: not a seed: ${x}`);
    return Number(x);
  });
}
