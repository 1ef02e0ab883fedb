/**
 * Tokens of Consul's filter expressions (hashicorp/go-bexpr): words (selectors, keywords and
 * unquoted values), quoted strings ("..." with Go escapes, `...` raw), `==`, `!=`, `[`, `]`,
 * `(`, `)` and `.`. Every token carries its character offset so errors can name where they are.
 */
import { FilterError } from "./error.ts";

export type TokenKind = "word" | "string" | "op" | "lparen" | "rparen" | "lbracket" | "rbracket" | "dot" | "end";

export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** Offset of the token's first character in the expression. */
  readonly position: number;
}

/** Characters an unquoted word may hold: selector parts, numbers and simple values. */
const wordChar = /[A-Za-z0-9_\-:/@+]/;

const escapes: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", '"': '"', "'": "'", a: "\x07", b: "\b", f: "\f", v: "\v" };

export function tokenize(expression: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < expression.length) {
    const ch = expression[at]!;
    if (/\s/.test(ch)) {
      at++;
      continue;
    }
    const start = at;
    if (ch === "(" || ch === ")" || ch === "[" || ch === "]" || ch === ".") {
      const kind = ch === "(" ? "lparen" : ch === ")" ? "rparen" : ch === "[" ? "lbracket" : ch === "]" ? "rbracket" : "dot";
      tokens.push({ kind, text: ch, position: start });
      at++;
    } else if (ch === "=" || ch === "!") {
      if (expression[at + 1] !== "=") throw new FilterError(`unexpected "${ch}", expected "==" or "!="`, start);
      tokens.push({ kind: "op", text: ch + "=", position: start });
      at += 2;
    } else if (ch === '"') {
      const [text, end] = readDoubleQuoted(expression, at);
      tokens.push({ kind: "string", text, position: start });
      at = end;
    } else if (ch === "`") {
      const end = expression.indexOf("`", at + 1);
      if (end < 0) throw new FilterError("unterminated raw string", start);
      tokens.push({ kind: "string", text: expression.slice(at + 1, end), position: start });
      at = end + 1;
    } else if (wordChar.test(ch)) {
      while (at < expression.length && wordChar.test(expression[at]!)) at++;
      tokens.push({ kind: "word", text: expression.slice(start, at), position: start });
    } else {
      throw new FilterError(`unexpected character ${JSON.stringify(ch)}`, start);
    }
  }
  tokens.push({ kind: "end", text: "", position: expression.length });
  return tokens;
}

/** Reads a Go-style double-quoted string starting at `start`; returns its value and the offset after it. */
function readDoubleQuoted(expression: string, start: number): [string, number] {
  let out = "";
  let at = start + 1;
  while (at < expression.length) {
    const ch = expression[at]!;
    if (ch === '"') return [out, at + 1];
    if (ch !== "\\") {
      out += ch;
      at++;
      continue;
    }
    const next = expression[at + 1];
    if (next === undefined) break;
    if (next === "u" || next === "x") {
      const width = next === "u" ? 4 : 2;
      const hex = expression.slice(at + 2, at + 2 + width);
      if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex)) throw new FilterError(`invalid escape "\\${next}${hex}"`, at);
      out += String.fromCharCode(parseInt(hex, 16));
      at += 2 + width;
      continue;
    }
    const escaped = escapes[next];
    if (escaped === undefined) throw new FilterError(`invalid escape "\\${next}"`, at);
    out += escaped;
    at += 2;
  }
  throw new FilterError("unterminated string", start);
}
