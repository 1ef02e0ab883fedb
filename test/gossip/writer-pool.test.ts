import test from "ava";
import { GoMsgpackWriter } from "../../src/core/gossip/wire/gomsgpack.ts";

// Writers build in pooled scratch buffers: what finish() returned must never be handed to another writer.
test("msgpack writer: results stay as returned, even when a writer is finished twice and more writers follow", (t) => {
  const w = new GoMsgpackWriter().str("abc");
  const first = w.finish();
  const second = w.finish();
  const more = w.str("d").finish();
  // Open together, as nested writers are, so they take every pooled buffer at once.
  const open = ["xyz", "uvw", "rst", "opq"].map(() => new GoMsgpackWriter());
  open.forEach((o, i) => o.str(["xyz", "uvw", "rst", "opq"][i]!));
  for (const o of open) o.finish();
  t.deepEqual([...first], [0xa3, 0x61, 0x62, 0x63]);
  t.deepEqual([...second], [0xa3, 0x61, 0x62, 0x63]);
  t.deepEqual([...more], [0xa3, 0x61, 0x62, 0x63, 0xa1, 0x64]);
});
