import { describe, expect, it } from 'vitest';
import { type AllocationArm, chooseArm, decide, emptyStats, posteriorOf } from '../../../src/ai/bandit.js';
import { createSeededRandom, sampleBeta, sampleGamma } from '../../../src/ai/random.js';

function arm(id: string, trials: number, successes: number): AllocationArm {
  const stats = { ...emptyStats(), successTrials: trials, successes };
  return { id, count: trials, localCount: trials, mean: trials === 0 ? undefined : successes / trials, posterior: posteriorOf(stats, 'success', 'beta') };
}

describe('seeded random and samplers', () => {
  it('repeats the same sequence for the same seed and differs across seeds', () => {
    const a = createSeededRandom(7);
    const b = createSeededRandom(7);
    const c = createSeededRandom(8);
    const seqA = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(seqA);
    expect(Array.from({ length: 5 }, c)).not.toEqual(seqA);
    for (const x of seqA) expect(x >= 0 && x < 1).toBe(true);
  });

  it('draws Gamma and Beta with the right means', () => {
    const random = createSeededRandom(1);
    let g = 0;
    let b = 0;
    for (let i = 0; i < 20_000; i++) {
      g += sampleGamma(0.5, random);
      b += sampleBeta(3, 7, random);
    }
    expect(g / 20_000).toBeCloseTo(0.5, 1);
    expect(b / 20_000).toBeCloseTo(0.3, 2);
  });
});

describe('allocation', () => {
  const options = { strategy: 'thompson' as const, sampleSize: 10, minArmShare: 0, epsilon: 0.1 };

  it('splits traffic equally while any arm is below the sample size', () => {
    const random = createSeededRandom(3);
    const arms = [arm('a', 9, 9), arm('b', 100, 0), arm('c', 100, 0)];
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 3000; i++) counts[chooseArm(arms, options, random).id]!++;
    for (const n of Object.values(counts)) expect(n).toBeGreaterThan(900);
  });

  it('sends almost all traffic to a clearly better arm after warm-up', () => {
    const random = createSeededRandom(4);
    const arms = [arm('good', 500, 400), arm('bad', 500, 100)];
    let good = 0;
    for (let i = 0; i < 1000; i++) if (chooseArm(arms, options, random).id === 'good') good++;
    expect(good).toBe(1000);
  });

  it('keeps the minimum share for every arm', () => {
    const random = createSeededRandom(5);
    const arms = [arm('good', 500, 400), arm('bad', 500, 100)];
    let bad = 0;
    for (let i = 0; i < 20_000; i++) if (chooseArm(arms, { ...options, minArmShare: 0.05 }, random).id === 'bad') bad++;
    expect(bad / 20_000).toBeGreaterThan(0.04);
    expect(bad / 20_000).toBeLessThan(0.06);
  });

  it('follows fixed weights', () => {
    const random = createSeededRandom(6);
    const arms = [arm('a', 0, 0), arm('b', 0, 0)];
    let a = 0;
    for (let i = 0; i < 10_000; i++) if (chooseArm(arms, { ...options, strategy: 'fixed', weights: { a: 3, b: 1 } }, random).id === 'a') a++;
    expect(a / 10_000).toBeCloseTo(0.75, 1);
  });

  it('ucb1 tries the less explored arm when means are close', () => {
    const random = createSeededRandom(7);
    const chosen = chooseArm([arm('a', 1000, 500), arm('b', 20, 9)], { ...options, strategy: 'ucb1' }, random);
    expect(chosen.id).toBe('b');
  });

  it('epsilon-greedy exploits the best mean', () => {
    const random = createSeededRandom(8);
    let best = 0;
    for (let i = 0; i < 5000; i++) if (chooseArm([arm('a', 100, 60), arm('b', 100, 40)], { ...options, strategy: 'epsilon-greedy', epsilon: 0.2 }, random).id === 'a') best++;
    expect(best / 5000).toBeCloseTo(0.9, 1);
  });
});

describe('decisions', () => {
  it('gives probability to be best and expected loss consistent with the data', () => {
    const random = createSeededRandom(9);
    const [a, b] = decide(
      [
        { id: 'a', posterior: posteriorOf({ ...emptyStats(), successTrials: 1000, successes: 550 }, 'success', 'beta') },
        { id: 'b', posterior: posteriorOf({ ...emptyStats(), successTrials: 1000, successes: 450 }, 'success', 'beta') },
      ],
      10_000,
      random,
    );
    expect(a!.probabilityBest).toBeGreaterThan(0.99);
    expect(b!.probabilityBest).toBeLessThan(0.01);
    expect(b!.expectedLoss).toBeCloseTo(0.1, 1);
    expect(a!.expectedLoss).toBeLessThan(0.001);
  });

  it('is a coin flip for identical arms', () => {
    const random = createSeededRandom(10);
    const posterior = posteriorOf({ ...emptyStats(), qualityCount: 50, qualitySum: 30, qualitySqSum: 20 }, 'quality', 'gaussian');
    const [a] = decide([{ id: 'a', posterior }, { id: 'b', posterior }], 10_000, random);
    expect(a!.probabilityBest).toBeGreaterThan(0.45);
    expect(a!.probabilityBest).toBeLessThan(0.55);
  });
});
