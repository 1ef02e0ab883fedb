/**
 * JSON text of a value for comparing answers (has a blocking query's answer changed?), never
 * sent. KV flags above 2^53 - 1 are bigints, which JSON.stringify refuses: only then is each
 * written as its digits and "n", which no flags value of another form produces.
 */
export function comparableJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof TypeError) || !error.message.includes("BigInt")) throw error;
  }
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === "bigint" ? `${item.toString()}n` : item));
}
