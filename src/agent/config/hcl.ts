/**
 * The part of HCL (version 1, as Consul reads it) that agent config files use:
 *   key = "string" | 123 | 1.5 | true | [list, ...] | { key = value ... } | <<EOF heredoc EOF
 *   block { ... }      block "label" { ... }      (a repeated block becomes a list of objects)
 *   # comment   // comment   /* comment *\/
 * It returns the same plain tree JSON.parse would, so HCL and JSON go through one decoder.
 * Interpolation (`${...}`) and HCL2 expressions are not supported: they stay literal text.
 */
import { ConfigError } from "./types.ts";

type Value = string | number | boolean | Value[] | { [key: string]: Value };
type Obj = { [key: string]: Value };

type Token =
  | { readonly kind: "ident" | "string" | "number" | "punct"; readonly text: string; readonly line: number };

export function parseHcl(text: string, source: string): Record<string, unknown> {
  const parser = new Parser(tokenize(text, source), source);
  const body = parser.body(true);
  return body;
}

function tokenize(text: string, source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const fail = (message: string): never => {
    throw new ConfigError(`${source}:${line}: invalid HCL: ${message}`);
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\n") {
      line++;
      i++;
    } else if (c === " " || c === "\t" || c === "\r") i++;
    else if (c === "#" || text.startsWith("//", i)) {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (text.startsWith("/*", i)) {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) fail("unterminated /* comment");
      line += countLines(text.slice(i, end));
      i = end + 2;
    } else if (c === '"') {
      const [value, next, lines] = readString(text, i, fail);
      tokens.push({ kind: "string", text: value, line });
      line += lines;
      i = next;
    } else if (text.startsWith("<<", i)) {
      const m = /^<<(-?)([A-Za-z_][A-Za-z0-9_]*)\r?\n/.exec(text.slice(i));
      if (m === null) fail("a heredoc starts with <<NAME and a newline");
      const start = i + m![0].length;
      const endRe = new RegExp(`^[ \\t]*${m![2]}[ \\t]*$`, "m");
      const rest = text.slice(start);
      const end = endRe.exec(rest);
      if (end === null) fail(`heredoc <<${m![2]} is never closed`);
      let body = rest.slice(0, end!.index);
      if (m![1] === "-") body = body.replace(/^[ \t]+/gm, "");
      tokens.push({ kind: "string", text: body, line });
      line += 1 + countLines(rest.slice(0, end!.index + end![0].length));
      i = start + end!.index + end![0].length;
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?(0x[0-9a-fA-F]+|\d+(\.\d+)?([eE][+-]?\d+)?)/.exec(text.slice(i));
      if (m === null) fail(`unexpected ${JSON.stringify(c)}`);
      tokens.push({ kind: "number", text: m![0], line });
      i += m![0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.-]*/.exec(text.slice(i))!;
      tokens.push({ kind: "ident", text: m[0], line });
      i += m[0].length;
    } else if ("{}[]=,:".includes(c)) {
      tokens.push({ kind: "punct", text: c, line });
      i++;
    } else fail(`unexpected ${JSON.stringify(c)}`);
  }
  return tokens;
}

function countLines(s: string): number {
  return s.split("\n").length - 1;
}

function readString(text: string, start: number, fail: (m: string) => never): [string, number, number] {
  let out = "";
  let i = start + 1;
  let lines = 0;
  const escapes: Record<string, string> = { n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", a: "\x07", v: "\v", '"': '"', "\\": "\\", "/": "/" };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') return [out, i + 1, lines];
    if (c === "\n") fail("newline in a string (use a heredoc for several lines)");
    if (c === "\\") {
      const e = text[i + 1] ?? "";
      if (e === "u") {
        const hex = text.slice(i + 2, i + 6);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail(`bad \\u escape ${JSON.stringify(text.slice(i, i + 6))}`);
        out += String.fromCharCode(Number.parseInt(hex, 16));
        i += 6;
        continue;
      }
      if (escapes[e] === undefined) fail(`unknown escape \\${e}`);
      out += escapes[e];
      i += 2;
      continue;
    }
    if (c === "$" && text[i + 1] === "{") {
      // Interpolation: keep it literal, braces included.
      const end = text.indexOf("}", i);
      if (end < 0) fail("unterminated ${ in a string");
      out += text.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    out += c;
    i++;
  }
  return fail("unterminated string");
}

class Parser {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly source: string,
  ) {}

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private fail(message: string, token = this.peek()): never {
    const where = token === undefined ? "end of file" : `line ${token.line}`;
    throw new ConfigError(`${this.source}: invalid HCL at ${where}: ${message}`);
  }

  private expect(punct: string): void {
    const t = this.peek();
    if (t?.kind !== "punct" || t.text !== punct) this.fail(`expected ${JSON.stringify(punct)}, found ${t === undefined ? "end of file" : JSON.stringify(t.text)}`);
    this.pos++;
  }

  private isPunct(text: string): boolean {
    const t = this.peek();
    return t?.kind === "punct" && t.text === text;
  }

  /** Items until "}" (or the end of the file at the top level). */
  body(topLevel: boolean): Obj {
    const out: Obj = {};
    for (;;) {
      const t = this.peek();
      if (t === undefined) {
        if (!topLevel) this.fail('missing "}"');
        return out;
      }
      if (t.kind === "punct" && t.text === "}") {
        if (topLevel) this.fail('unexpected "}"');
        return out;
      }
      this.item(out);
      if (this.isPunct(",")) this.pos++;
    }
  }

  private item(out: Obj): void {
    const keyToken = this.peek()!;
    if (keyToken.kind !== "ident" && keyToken.kind !== "string") this.fail(`expected a key, found ${JSON.stringify(keyToken.text)}`);
    this.pos++;
    const labels: string[] = [];
    while (this.peek()?.kind === "string" || (this.peek()?.kind === "ident" && labels.length > 0)) labels.push(this.tokens[this.pos++]!.text);
    let value: Value;
    if (this.isPunct("=") || this.isPunct(":")) {
      if (labels.length > 0) this.fail(`a key with labels must be followed by a block: ${keyToken.text} ${labels.join(" ")}`);
      this.pos++;
      value = this.value();
      out[keyToken.text] = mergeRepeated(out[keyToken.text], value, false);
      return;
    }
    if (!this.isPunct("{")) this.fail(`expected "=" or "{" after ${JSON.stringify(keyToken.text)}`);
    this.pos++;
    value = this.body(false);
    this.expect("}");
    for (const label of [...labels].reverse()) value = { [label]: value };
    out[keyToken.text] = mergeRepeated(out[keyToken.text], value, true);
  }

  private value(): Value {
    const t = this.peek();
    if (t === undefined) return this.fail("expected a value");
    this.pos++;
    if (t.kind === "string") return t.text;
    if (t.kind === "number") return Number(t.text);
    if (t.kind === "ident") {
      if (t.text === "true") return true;
      if (t.text === "false") return false;
      return this.fail(`expected a value, found ${JSON.stringify(t.text)} (strings need quotes)`, t);
    }
    if (t.text === "[") return this.list();
    if (t.text === "{") {
      const obj = this.body(false);
      this.expect("}");
      return obj;
    }
    return this.fail(`expected a value, found ${JSON.stringify(t.text)}`, t);
  }

  private list(): Value[] {
    const items: Value[] = [];
    while (!this.isPunct("]")) {
      items.push(this.value());
      if (this.isPunct(",")) this.pos++;
      else if (!this.isPunct("]")) this.fail('expected "," or "]" in a list');
    }
    this.pos++;
    return items;
  }
}

/**
 * A key given twice: blocks with distinct labels merge (`service "a" {}` `service "b" {}`), a
 * repeated plain block becomes a list (`service {} service {}`), a repeated assignment wins.
 */
function mergeRepeated(previous: Value | undefined, value: Value, block: boolean): Value {
  if (previous === undefined || !block) return value;
  if (Array.isArray(previous)) return [...previous, value];
  if (isObj(previous) && isObj(value) && Object.keys(value).every((k) => !(k in previous)) && labelled(value)) return { ...previous, ...value };
  return [previous, value];
}

function isObj(v: Value): v is Obj {
  return typeof v === "object" && !Array.isArray(v);
}

/** A labelled block's value is `{label: {...}}`: one key whose value is an object. */
function labelled(v: Obj): boolean {
  const keys = Object.keys(v);
  return keys.length === 1 && isObj(v[keys[0]!]!);
}
