import { assert } from "../util/assert.ts";
import type { Rng } from "../util/rng.ts";
import type { Coordinate } from "./messages.ts";

/** serf/coordinate config.go DefaultConfig. */
export interface VivaldiConfig {
  readonly dimensionality: number;
  /** Error estimates are capped here; a fresh coordinate starts at the cap (knows nothing). */
  readonly vivaldiErrorMax: number;
  /** Weight of a new sample in the error estimate. */
  readonly vivaldiCE: number;
  /** How far one sample moves the coordinate. */
  readonly vivaldiCC: number;
  /** Samples averaged into the adjustment term (0 disables it). */
  readonly adjustmentWindowSize: number;
  /** Smallest height, in seconds: the access-link part of every RTT. */
  readonly heightMin: number;
  /** Per-peer median filter over this many RTT samples. */
  readonly latencyFilterSize: number;
  /** Gravity towards the origin, in seconds, keeps the whole system from drifting. */
  readonly gravityRho: number;
}

export function defaultVivaldiConfig(): VivaldiConfig {
  return {
    dimensionality: 8, // Serf's value: enough room for Internet-like latency spaces
    vivaldiErrorMax: 1.5, // a new coordinate is maximally uncertain
    vivaldiCE: 0.25, // Vivaldi paper's recommended error-weight constant
    vivaldiCC: 0.25, // Vivaldi paper's recommended timestep constant
    adjustmentWindowSize: 20, // Serf's adjustment window
    heightMin: 10.0e-6, // 10 us minimum access-link height
    latencyFilterSize: 3, // median of 3 rejects single outliers
    gravityRho: 150.0, // Serf's gravity: weak pull, only matters at large drift
  };
}

const zeroThreshold = 1.0e-6;
/** Samples above this are measurement errors (serf coordinate client maxRTT). */
export const maxRttMs = 10_000;

export function newCoordinate(c: VivaldiConfig): Coordinate {
  return { Vec: new Array<number>(c.dimensionality).fill(0), Error: c.vivaldiErrorMax, Adjustment: 0, Height: c.heightMin };
}

export function isValidCoordinate(c: Coordinate): boolean {
  return c.Vec.every(Number.isFinite) && Number.isFinite(c.Error) && Number.isFinite(c.Adjustment) && Number.isFinite(c.Height);
}

function rawDistanceSeconds(a: Coordinate, b: Coordinate): number {
  let sum = 0;
  for (let i = 0; i < a.Vec.length; i++) {
    const d = a.Vec[i]! - b.Vec[i]!;
    sum += d * d;
  }
  return Math.sqrt(sum) + a.Height + b.Height;
}

/** Estimated RTT in seconds between two coordinates, with both adjustments when they keep it positive. */
export function distanceSeconds(a: Coordinate, b: Coordinate): number {
  assert(a.Vec.length === b.Vec.length, `dimensions ${a.Vec.length} vs ${b.Vec.length}`);
  const dist = rawDistanceSeconds(a, b);
  const adjusted = dist + a.Adjustment + b.Adjustment;
  return adjusted > 0 ? adjusted : dist;
}

function unitVectorAt(rng: Rng, from: readonly number[], to: readonly number[]): [number[], number] {
  const diff = from.map((x, i) => x - to[i]!);
  const mag = Math.hypot(...diff);
  if (mag > zeroThreshold) return [diff.map((x) => x / mag), mag];
  // On top of each other: push in a random direction (drawn from the injected generator).
  const random = diff.map(() => rng.next() - 0.5);
  const randomMag = Math.hypot(...random);
  if (randomMag > zeroThreshold) return [random.map((x) => x / randomMag), 0];
  const axis = diff.map(() => 0);
  axis[0] = 1;
  return [axis, 0];
}

function applyForce(rng: Rng, c: VivaldiConfig, self: Coordinate, force: number, other: Coordinate): Coordinate {
  const [unit, mag] = unitVectorAt(rng, self.Vec, other.Vec);
  const vec = self.Vec.map((x, i) => x + unit[i]! * force);
  let height = self.Height;
  if (mag > zeroThreshold) height = Math.max((self.Height + other.Height) * force / mag + self.Height, c.heightMin);
  return { Vec: vec, Error: self.Error, Adjustment: self.Adjustment, Height: height };
}

/**
 * Serf's coordinate client (serf/coordinate/client.go): Vivaldi with a height term, a per-peer
 * median latency filter, an adjustment term averaged over a window, and gravity to the origin.
 */
export class VivaldiClient {
  private coord: Coordinate;
  private readonly origin: Coordinate;
  private readonly adjustmentSamples: number[];
  private adjustmentIndex = 0;
  private readonly latencySamples = new Map<string, number[]>();

  constructor(private readonly config: VivaldiConfig, private readonly rng: Rng) {
    assert(config.dimensionality >= 1, `dimensionality ${config.dimensionality} < 1`);
    assert(config.latencyFilterSize >= 1, `latencyFilterSize ${config.latencyFilterSize} < 1`);
    this.coord = newCoordinate(config);
    this.origin = newCoordinate(config);
    this.adjustmentSamples = new Array<number>(config.adjustmentWindowSize).fill(0);
  }

  get coordinate(): Coordinate {
    return this.coord;
  }

  /** Forget a peer's latency samples (it was reaped). */
  forget(node: string): void {
    this.latencySamples.delete(node);
  }

  /** One RTT sample to `node` whose coordinate is `other`. Returns false (ignored) for bad input. */
  update(node: string, other: Coordinate, rttMs: number): boolean {
    if (other.Vec.length !== this.config.dimensionality || !isValidCoordinate(other)) return false;
    if (!(rttMs >= 0 && rttMs <= maxRttMs)) return false;
    const rttSeconds = this.latencyFilter(node, rttMs / 1000);
    this.updateVivaldi(other, rttSeconds);
    this.updateAdjustment(other, rttSeconds);
    this.updateGravity();
    if (!isValidCoordinate(this.coord)) this.coord = newCoordinate(this.config);
    return true;
  }

  private latencyFilter(node: string, rttSeconds: number): number {
    const samples = this.latencySamples.get(node) ?? [];
    samples.push(rttSeconds);
    if (samples.length > this.config.latencyFilterSize) samples.shift();
    this.latencySamples.set(node, samples);
    const sorted = [...samples].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  }

  private updateVivaldi(other: Coordinate, rttSecondsRaw: number): void {
    const c = this.config;
    const dist = distanceSeconds(this.coord, other);
    const rttSeconds = Math.max(rttSecondsRaw, zeroThreshold);
    const wrongness = Math.abs(dist - rttSeconds) / rttSeconds;
    const totalError = Math.max(this.coord.Error + other.Error, zeroThreshold);
    const weight = this.coord.Error / totalError;
    const error = Math.min(c.vivaldiCE * weight * wrongness + this.coord.Error * (1 - c.vivaldiCE * weight), c.vivaldiErrorMax);
    const force = c.vivaldiCC * weight * (rttSeconds - dist);
    const moved = applyForce(this.rng, c, this.coord, force, other);
    this.coord = { ...moved, Error: error };
  }

  private updateAdjustment(other: Coordinate, rttSeconds: number): void {
    const window = this.config.adjustmentWindowSize;
    if (window === 0) return;
    // The existing adjustments do not figure in: raw distance, as Serf does.
    this.adjustmentSamples[this.adjustmentIndex] = rttSeconds - rawDistanceSeconds(this.coord, other);
    this.adjustmentIndex = (this.adjustmentIndex + 1) % window;
    const sum = this.adjustmentSamples.reduce((a, b) => a + b, 0);
    this.coord = { ...this.coord, Adjustment: sum / (2 * window) };
  }

  private updateGravity(): void {
    const dist = distanceSeconds(this.origin, this.coord);
    const force = -1 * Math.pow(dist / this.config.gravityRho, 2);
    this.coord = applyForce(this.rng, this.config, this.coord, force, this.origin);
  }
}
