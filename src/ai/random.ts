/** A source of uniform numbers in [0, 1), like `Math.random`. */
export type RandomSource = () => number;

/**
 * A seeded pseudo-random generator (sfc32, seeded through splitmix32), for reproducible
 * simulations and tests. Same seed, same sequence, on every platform.
 *
 * @example
 * ```ts
 * const random = createSeededRandom(42);
 * const optimizer = new PromptOptimizer({ random });
 * ```
 */
export function createSeededRandom(seed: number | string): RandomSource {
  let h = typeof seed === 'number' ? seed >>> 0 : hashString(seed);
  const next32 = (): number => {
    h = (h + 0x9e3779b9) >>> 0;
    let z = h;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = next32();
  let b = next32();
  let c = next32();
  let d = next32();
  const random = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 12; i++) random();
  return random;
}

/** FNV-1a, 32 bits: a stable hash for seeds and sticky assignment. */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

let spare: number | undefined;
let spareOwner: RandomSource | undefined;

/** A standard normal draw (Box–Muller; the second value of each pair is kept for the next call on the same source). */
export function sampleNormal(random: RandomSource): number {
  if (spare !== undefined && spareOwner === random) {
    const value = spare;
    spare = undefined;
    return value;
  }
  let u = random();
  while (u <= Number.EPSILON) u = random();
  const radius = Math.sqrt(-2 * Math.log(u));
  const angle = 2 * Math.PI * random();
  spare = radius * Math.sin(angle);
  spareOwner = random;
  return radius * Math.cos(angle);
}

/** A Gamma(shape, 1) draw (Marsaglia–Tsang; boosted for shape < 1). */
export function sampleGamma(shape: number, random: RandomSource): number {
  if (shape < 1) {
    let u = random();
    while (u <= Number.EPSILON) u = random();
    return sampleGamma(shape + 1, random) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = sampleNormal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = random();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A Beta(alpha, beta) draw. */
export function sampleBeta(alpha: number, beta: number, random: RandomSource): number {
  const x = sampleGamma(alpha, random);
  const y = sampleGamma(beta, random);
  const sum = x + y;
  return sum === 0 ? 0.5 : x / sum;
}
