/**
 * Serves the HTTP API over the fake backend for clients outside node (python-consul, curl):
 *   node --import tsx test/http/serve-fake.ts [port]     → prints "listening <port>"
 */
import { createHttpApi, startHttpServer } from "../../src/http/server.ts";
import { FakeBackend } from "./fake-backend.ts";

const port = Number(process.argv[2] ?? 0);
const server = await startHttpServer({ host: "127.0.0.1", port, app: createHttpApi(new FakeBackend()) });
console.log(`listening ${server.port}`);
const stop = (): void => void server.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
