/**
 * Parses Consul's filter language into a tree. Precedence, loosest first: `or`, `and`, `not`,
 * then a parenthesised expression or one match:
 *
 *   <Selector> == <Value>        <Selector> != <Value>
 *   <Selector> is empty          <Selector> is not empty
 *   <Value> in <Selector>        <Value> not in <Selector>
 *   <Selector> contains <Value>  <Selector> not contains <Value>
 *   <Selector> matches <Value>   <Selector> not matches <Value>
 *
 * A selector is `Name(.Name | ["key"])*` (`Service.Meta.env`, `NodeMeta["rack-id"]`); a value is
 * a quoted string, a raw `backtick` string, or an unquoted word such as `80`, `prod` or `v1.2`.
 */
import { assert } from "../util/assert.ts";
import { FilterError } from "./error.ts";
import { tokenize, type Token } from "./lexer.ts";

export type MatchOp = "equal" | "notEqual" | "isEmpty" | "isNotEmpty" | "in" | "notIn" | "contains" | "notContains" | "matches" | "notMatches";

export type FilterNode =
  | { readonly kind: "or" | "and"; readonly left: FilterNode; readonly right: FilterNode }
  | { readonly kind: "not"; readonly operand: FilterNode }
  | { readonly kind: "match"; readonly op: MatchOp; readonly selector: readonly string[]; readonly value: string | null; readonly position: number };

const keywords = new Set(["and", "or", "not", "in", "contains", "matches", "is", "empty"]);

/** Deepest nesting of parentheses and `not`s accepted, so a hostile expression cannot exhaust the stack. */
export const filterDepthMax = 64;
/** Longest expression accepted, in characters. */
export const filterLengthMax = 16_384;

export function parseFilter(expression: string): FilterNode {
  if (expression.length > filterLengthMax) throw new FilterError(`expression is ${expression.length} characters long, the limit is ${filterLengthMax}`, 0);
  const parser = new Parser(tokenize(expression));
  const tree = parser.parseOr(0);
  const rest = parser.peek();
  if (rest.kind !== "end") throw new FilterError(`unexpected ${describe(rest)}, expected "and", "or" or the end`, rest.position);
  return tree;
}

interface Operand {
  readonly quoted: boolean;
  readonly text: string;
  /** Set when the operand is a valid selector. */
  readonly selector: string[] | null;
  readonly position: number;
}

class Parser {
  private at = 0;

  constructor(private readonly tokens: readonly Token[]) {
    assert(tokens.length > 0 && tokens[tokens.length - 1]!.kind === "end", "parser: token list must end with an end token");
  }

  peek(offset = 0): Token {
    return this.tokens[Math.min(this.at + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== "end") this.at++;
    return token;
  }

  private isWord(text: string, offset = 0): boolean {
    const token = this.peek(offset);
    return token.kind === "word" && token.text === text;
  }

  parseOr(depth: number): FilterNode {
    let left = this.parseAnd(depth);
    while (this.isWord("or")) {
      this.next();
      left = { kind: "or", left, right: this.parseAnd(depth) };
    }
    return left;
  }

  private parseAnd(depth: number): FilterNode {
    let left = this.parseNot(depth);
    while (this.isWord("and")) {
      this.next();
      left = { kind: "and", left, right: this.parseNot(depth) };
    }
    return left;
  }

  private parseNot(depth: number): FilterNode {
    if (depth > filterDepthMax) throw new FilterError(`expression nests deeper than ${filterDepthMax} levels`, this.peek().position);
    // `not` starts a negation unless it begins `not in` (a value cannot be the word "not" then).
    if (this.isWord("not") && !this.isWord("in", 1)) {
      this.next();
      return { kind: "not", operand: this.parseNot(depth + 1) };
    }
    if (this.peek().kind === "lparen") {
      this.next();
      const inner = this.parseOr(depth + 1);
      const close = this.next();
      if (close.kind !== "rparen") throw new FilterError(`unexpected ${describe(close)}, expected ")"`, close.position);
      return inner;
    }
    return this.parseMatch();
  }

  private parseMatch(): FilterNode {
    const first = this.parseOperand();
    const token = this.peek();
    if (this.isWord("in") || (this.isWord("not") && this.isWord("in", 1))) {
      const negated = this.isWord("not");
      this.next();
      if (negated) this.next();
      const target = this.parseOperand();
      if (target.selector === null) throw new FilterError(`expected a selector after "in", got ${JSON.stringify(target.text)}`, target.position);
      return { kind: "match", op: negated ? "notIn" : "in", selector: target.selector, value: first.text, position: first.position };
    }
    if (first.selector === null) throw new FilterError(`expected a selector, got ${first.quoted ? "a quoted string" : JSON.stringify(first.text)}`, first.position);
    const selector = first.selector;
    const match = (op: MatchOp, value: string | null): FilterNode => ({ kind: "match", op, selector, value, position: first.position });
    if (token.kind === "op") {
      this.next();
      return match(token.text === "==" ? "equal" : "notEqual", this.parseValue());
    }
    if (this.isWord("is")) {
      this.next();
      const negated = this.isWord("not");
      if (negated) this.next();
      const empty = this.next();
      if (empty.kind !== "word" || empty.text !== "empty") throw new FilterError(`unexpected ${describe(empty)}, expected "empty"`, empty.position);
      return match(negated ? "isNotEmpty" : "isEmpty", null);
    }
    const negated = this.isWord("not");
    const verb = this.peek(negated ? 1 : 0);
    if (verb.kind === "word" && (verb.text === "contains" || verb.text === "matches")) {
      this.next();
      if (negated) this.next();
      const op: MatchOp = verb.text === "contains" ? (negated ? "notContains" : "contains") : negated ? "notMatches" : "matches";
      return match(op, this.parseValue());
    }
    throw new FilterError(`unexpected ${describe(token)}, expected a match operator (==, !=, is, in, contains, matches)`, token.position);
  }

  private parseValue(): string {
    const operand = this.parseOperand();
    return operand.text;
  }

  /** A quoted string, or a run of words joined by dots and ["key"] indexes. */
  private parseOperand(): Operand {
    const first = this.next();
    if (first.kind === "string") return { quoted: true, text: first.text, selector: null, position: first.position };
    if (first.kind !== "word" || keywords.has(first.text)) {
      throw new FilterError(`unexpected ${describe(first)}, expected a selector or a value`, first.position);
    }
    const parts = [first.text];
    let text = first.text;
    let isSelector = /^[A-Za-z_]/.test(first.text);
    for (;;) {
      const token = this.peek();
      if (token.kind === "dot") {
        const part = this.peek(1);
        if (part.kind !== "word") throw new FilterError(`unexpected ${describe(part)} after "."`, part.position);
        this.next();
        this.next();
        parts.push(part.text);
        text += "." + part.text;
      } else if (token.kind === "lbracket") {
        const key = this.peek(1);
        const close = this.peek(2);
        if (key.kind !== "string") throw new FilterError(`unexpected ${describe(key)}, expected a quoted key after "["`, key.position);
        if (close.kind !== "rbracket") throw new FilterError(`unexpected ${describe(close)}, expected "]"`, close.position);
        this.at += 3;
        parts.push(key.text);
        text += `[${JSON.stringify(key.text)}]`;
      } else {
        break;
      }
    }
    if (isSelector) isSelector = parts.slice(1).every((part) => part !== "");
    return { quoted: false, text, selector: isSelector ? parts : null, position: first.position };
  }
}

function describe(token: Token): string {
  switch (token.kind) {
    case "end": return "end of expression";
    case "string": return `string ${JSON.stringify(token.text)}`;
    default: return JSON.stringify(token.text);
  }
}
