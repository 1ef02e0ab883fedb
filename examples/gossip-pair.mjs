// Two gossip members on loopback: the second joins the first and sends a user event.
import { startGossipMember } from "praetor";

const a = await startGossipMember({ name: "a", bind: "127.0.0.1:0" });
const b = await startGossipMember({ name: "b", bind: "127.0.0.1:0" });
const got = new Promise((resolve) => a.onEvent((e) => { if (e.type === "user-event") resolve(new TextDecoder().decode(e.payload)); }));
await b.joinAndWait([a.localAddr]);
b.userEvent("deploy", new TextEncoder().encode("v2"));
const payload = await Promise.race([got, new Promise((_, reject) => setTimeout(() => reject(new Error("no event within 10 s")), 10_000))]);
console.log(JSON.stringify({ members: a.members().map((m) => m.name).sort(), event: payload }));
await b.leave();
await a.leave();
