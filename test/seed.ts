// The test run's random seed: fresh per run, printed in every failure, replayed with
// LOSSCAPE_TEST_SEED=<seed>.
export const SEED = Number(process.env.LOSSCAPE_TEST_SEED ?? ((Date.now() ^ (process.pid << 10)) >>> 0));
export const seedNote = `seed ${SEED} (replay with LOSSCAPE_TEST_SEED=${SEED})`;
