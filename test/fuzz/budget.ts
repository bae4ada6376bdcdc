// How long each property may run: a few seconds locally and in CI, longer when
// someone sets GATEHOUSE_FUZZ_MS to go hunting. FC_SEED replays a failure
// (fast-check prints the seed and path of every counterexample).
import type { Parameters } from 'fast-check';

const timeMs = Number(process.env.GATEHOUSE_FUZZ_MS ?? 1200);
const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);

export function budget<T>(numRuns: number): Parameters<T> {
  return {
    numRuns: process.env.GATEHOUSE_FUZZ_MS ? Number.MAX_SAFE_INTEGER : numRuns,
    interruptAfterTimeLimit: timeMs,
    markInterruptAsFailure: false,
    ...(seed === undefined ? {} : { seed }),
  };
}
