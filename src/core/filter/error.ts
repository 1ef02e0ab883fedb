/** A filter expression that cannot be compiled: the reason and the 0-based character offset. */
export class FilterError extends Error {
  override name = "FilterError";

  constructor(
    readonly reason: string,
    readonly position: number,
  ) {
    super(`${reason} (at character ${position + 1})`);
  }
}
