import test from "ava";
import { FlagError, type FlagSpec, formatFlagUsage, HelpRequested, parseFlags, parseGoBool } from "../../src/cli/flags.ts";

const specs: FlagSpec[] = [
  { name: "server", kind: "bool", usage: "Switches agent to server mode." },
  { name: "node", kind: "string", usage: "Name of this node." },
  { name: "bootstrap-expect", kind: "uint", usage: "n" },
  { name: "offset", kind: "int", usage: "n" },
  { name: "retry-interval", kind: "duration", usage: "d" },
  { name: "retry-join", kind: "list", usage: "addr" },
];

test("Go's forms: one or two dashes, -flag value and -flag=value, booleans bare or =value", (t) => {
  const p = parseFlags(["--server=false", "-node", "n1", "--bootstrap-expect=3", "-offset", "-2", "-retry-interval=1m", "-server"], specs);
  t.deepEqual([...p.values], [["server", true], ["node", "n1"], ["bootstrap-expect", 3], ["offset", -2], ["retry-interval", "1m"]]);
  t.deepEqual(p.args, []);
});

test("a boolean never swallows the next argument: it becomes the first positional", (t) => {
  const p = parseFlags(["-server", "false", "-node", "n1"], specs);
  t.is(p.values.get("server"), true);
  t.deepEqual(p.args, ["false", "-node", "n1"]);
});

test("parsing stops at the first positional, at a lone dash, and after --", (t) => {
  t.deepEqual(parseFlags(["-node", "a", "pos", "-server"], specs).args, ["pos", "-server"]);
  t.deepEqual(parseFlags(["-", "-server"], specs).args, ["-", "-server"]);
  const p = parseFlags(["-server", "--", "-node", "x"], specs);
  t.deepEqual(p.args, ["-node", "x"]);
  t.is(p.values.get("node"), undefined);
});

test("repeatable flags keep every value in order, and occurrences keep the command line's order", (t) => {
  const p = parseFlags(["-retry-join", "a", "-node=x", "--retry-join=b", "-retry-join", "c"], specs);
  t.deepEqual(p.values.get("retry-join"), ["a", "b", "c"]);
  t.deepEqual(p.occurrences.map((o) => `${o.name}=${String(o.value)}`), ["retry-join=a", "node=x", "retry-join=b", "retry-join=c"]);
});

test("a string flag takes its next argument even when it looks like a flag", (t) => {
  t.is(parseFlags(["-node", "-server"], specs).values.get("node"), "-server");
  t.is(parseFlags(["-node="], specs).values.get("node"), "");
});

test("errors read like Go's flag package", (t) => {
  const cases: [string[], string][] = [
    [["-nope"], "flag provided but not defined: -nope"],
    [["--nope=1"], "flag provided but not defined: -nope"],
    [["-node"], "flag needs an argument: -node"],
    [["-server=maybe"], 'invalid boolean value "maybe" for -server: parse error'],
    [["-bootstrap-expect", "three"], 'invalid value "three" for flag -bootstrap-expect: parse error'],
    [["-bootstrap-expect=-1"], 'invalid value "-1" for flag -bootstrap-expect: parse error'],
    [["-offset", "1.5"], 'invalid value "1.5" for flag -offset: parse error'],
    [["-retry-interval", "10"], 'invalid value "10" for flag -retry-interval: parse error (want a duration such as 30s or 5m)'],
    [["---server"], "bad flag syntax: ---server"],
    [["-=x"], "bad flag syntax: -=x"],
  ];
  for (const [argv, message] of cases) t.throws(() => parseFlags(argv, specs), { instanceOf: FlagError, message }, argv.join(" "));
});

test("-h, -help and --help ask for usage unless the command defines them", (t) => {
  for (const arg of ["-h", "-help", "--help", "--h"]) t.throws(() => parseFlags([arg], specs), { instanceOf: HelpRequested }, arg);
  t.throws(() => parseFlags(["-node", "x", "-h"], specs), { instanceOf: HelpRequested });
});

test("Go's integer and boolean spellings", (t) => {
  const n = (text: string) => parseFlags([`-offset=${text}`], specs).values.get("offset");
  t.is(n("0x10"), 16);
  t.is(n("010"), 8);
  t.is(n("0b101"), 5);
  t.is(n("1_000"), 1000);
  t.is(n("+7"), 7);
  t.is(n("0"), 0);
  for (const yes of ["1", "t", "T", "TRUE", "true", "True"]) t.true(parseGoBool(yes), yes);
  for (const no of ["0", "f", "F", "FALSE", "false", "False"]) t.false(parseGoBool(no), no);
  t.is(parseGoBool("yes"), null);
  t.is(parseGoBool("tRUE"), null);
});

test("usage lists flags sorted, with a placeholder for valued ones", (t) => {
  const text = formatFlagUsage([{ name: "z", kind: "bool", usage: "Last." }, { name: "a", kind: "string", usage: "First.", placeholder: "path" }]);
  t.is(text, "  -a=<path>\n     First.\n\n  -z\n     Last.\n");
});
